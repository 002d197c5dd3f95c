// Counts that add up: per recipient role, every birth case in exactly one state (its latest
// hand-off's, or why it is held back), held-back and waiting cases counted; births per day by
// date of birth and by hour of registration.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ReadFact } from './facts.ts';
import { openProjectionStore } from './projectionStore.ts';

let position = 0;
const at = '2026-11-20T22:30:00.000Z';
const base = (messageId: string, stream: string) => ({ messageId, position: position++, stream, at });
const uuid = () => `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`;
const registered = (caseId: string, standesamt: string, consent: boolean, idnr: boolean): ReadFact => ({
  ...base(uuid(), caseId),
  kind: 'registered',
  caseId,
  registerKey: `${standesamt}/G/2026/${caseId}`,
  standesamt,
  birthDate: '2026-11-19',
  consent,
  idnrs: idnr ? ['36574261809', '86095742719'] : [],
});
const scheduled = (caseId: string, deliveryId: string, role: 'elterngeldstelle' | 'familienkasse', kind: 'initial' | 'correction' = 'initial'): ReadFact => ({
  ...base(deliveryId, caseId),
  kind: 'scheduled',
  caseId,
  deliveryId,
  recipient: role === 'elterngeldstelle' ? 'egs:11000000' : 'fka:ost',
  recipientName: role,
  role,
  handOffKind: kind,
  legalBasis: 'x',
  purpose: 'p',
  dataSet: role === 'elterngeldstelle' ? 'beeg-25' : 'kindergeld',
});

/** The held-back and waiting rows of the full count (the gauges' `heldBack` must give the same), in one order. */
const heldBackOf = (rows: { role: string; state: string; count: number }[]) =>
  rows.filter((r) => r.state.startsWith('held-back:') || r.state === 'waiting').sort((a, z) => `${a.role} ${a.state}`.localeCompare(`${z.role} ${z.state}`));

describe('counts per recipient', () => {
  it('puts every case in exactly one state per recipient; the counts add up to the cases', () => {
    const store = openProjectionStore(':memory:', randomBytes(32));
    const d = (n: number) => `11111111-1111-4111-8111-${String(n).padStart(12, '0')}`;
    store.apply(
      [
        // A: both handed off; the Elterngeldstelle acknowledged the correction (its latest), the Familienkasse's is open.
        registered('birth-11007007-a', '11007007', true, true),
        scheduled('birth-11007007-a', d(1), 'elterngeldstelle'),
        scheduled('birth-11007007-a', d(2), 'familienkasse'),
        scheduled('birth-11007007-a', d(3), 'elterngeldstelle', 'correction'),
        { ...base(uuid(), `delivery-${d(3)}`), kind: 'acknowledged', deliveryId: d(3) },
        // B: no consent, no IdNr: held back twice.
        registered('birth-11007007-b', '11007007', false, false),
        // C: consent withdrawn before any hand-off; IdNr known but not yet routed (waiting).
        registered('birth-04011000-c', '04011000', true, true),
        { ...base(uuid(), 'birth-04011000-c'), kind: 'consent-withdrawn', caseId: 'birth-04011000-c' },
        // D: overdue at the Familienkasse, no hand-off to the Elterngeldstelle yet.
        registered('birth-04011000-d', '04011000', true, true),
        scheduled('birth-04011000-d', d(4), 'familienkasse'),
        { ...base(uuid(), `delivery-${d(4)}`), kind: 'overdue', deliveryId: d(4), dueAt: at, step: 'acknowledge' },
      ],
      position,
    );
    const relay = position; // everything published
    const rows = store.statesByRecipient({}, relay);
    const of = (role: string) => Object.fromEntries(rows.filter((r) => r.role === role).map((r) => [r.state, r.count]));
    expect(of('elterngeldstelle')).toEqual({ acknowledged: 1, 'held-back:no-consent': 1, 'held-back:consent-withdrawn': 1, waiting: 1 });
    expect(of('familienkasse')).toEqual({ delivered: 1, 'held-back:no-idnr': 1, waiting: 1, overdue: 1 });
    for (const role of ['elterngeldstelle', 'familienkasse']) expect(rows.filter((r) => r.role === role).reduce((a, r) => a + r.count, 0)).toBe(4);
    // The hub's gauge counts the same held-back and waiting cases by its own query.
    expect(heldBackOf(store.heldBack())).toEqual(heldBackOf(rows));
    expect(store.counts()).toEqual({ cases: 4, handOffs: 4, overdue: 1, escalated: 0, deadLetters: 0, decisionOverdue: 0, decisionEscalated: 0 });
    // Not yet published: scheduled, not delivered.
    expect(store.statesByRecipient({}, 0).find((r) => r.role === 'familienkasse' && r.state === 'scheduled')?.count).toBe(1);
    // A Standesamt's own cases; an agency's own hand-offs.
    expect(store.statesByRecipient({ standesamt: '11007007' }, relay).filter((r) => r.role === 'familienkasse').reduce((a, r) => a + r.count, 0)).toBe(2);
    expect(store.statesByRecipient({ recipient: 'fka:ost' }, relay).sort((a, z) => a.state.localeCompare(z.state))).toEqual([
      { role: 'familienkasse', state: 'delivered', count: 1 },
      { role: 'familienkasse', state: 'overdue', count: 1 },
    ]);
    // Births: by date of birth, and by hour of registration (22:30 UTC is the next day in Berlin: the caller folds).
    expect(store.births({}, 14)).toEqual({ byBirth: [{ day: '2026-11-19', births: 4 }], byRegisteredHour: [{ hour: '2026-11-20T22', births: 4 }] });
    expect(store.births({ standesamt: '04011000' }, 14).byBirth).toEqual([{ day: '2026-11-19', births: 2 }]);
    // Hand-offs of one Standesamt's cases (case ids name no Standesamt).
    expect(store.handOffsWhere({ standesamt: '04011000' }, 10).map((h) => h.deliveryId)).toEqual([d(4)]);
    expect(store.handOffsWhere({ standesamt: '11007007', lateOnly: true }, 10)).toEqual([]);
    expect(store.handOffsWhere({ standesamt: '04011000', lateOnly: true }, 10).map((h) => h.deliveryId)).toEqual([d(4)]);
    expect(store.casesWhere({ standesamt: '11007007' }, 10).map((c) => c.caseId).sort()).toEqual(['birth-11007007-a', 'birth-11007007-b']);
    store.close();
  });

  it('counts hand-offs held back by an unusable recipient certificate apart from those waiting for the IdNr; the counts still add up', () => {
    const store = openProjectionStore(':memory:', randomBytes(32));
    store.apply(
      [
        // E: IdNr known, consent: both recipients' certificates unusable (held back by the scheduler).
        registered('birth-11007007-e', '11007007', true, true),
        // F: no IdNr yet: waits for it (a certificate problem changes nothing before the IdNr is there).
        registered('birth-11007007-f', '11007007', true, false),
        // G: routable, not yet handed off.
        registered('birth-11007007-g', '11007007', true, true),
      ],
      position,
    );
    store.holdBack('birth-11007007-e', 'elterngeldstelle', 'certificate-expired');
    store.holdBack('birth-11007007-e', 'familienkasse', 'no certificate');
    store.holdBack('birth-11007007-f', 'familienkasse', 'no certificate');
    const of = (role: string) => Object.fromEntries(store.statesByRecipient({}, position).filter((r) => r.role === role).map((r) => [r.state, r.count]));
    expect(of('elterngeldstelle')).toEqual({ 'held-back:certificate': 1, waiting: 2 });
    expect(of('familienkasse')).toEqual({ 'held-back:certificate': 1, 'held-back:no-idnr': 1, waiting: 1 });
    expect(heldBackOf(store.heldBack())).toEqual(heldBackOf(store.statesByRecipient({}, position)));
    expect(store.heldBackReason('birth-11007007-e', 'elterngeldstelle')).toBe('certificate-expired');
    // A certificate issued meanwhile releases it: waiting (for the relay) again.
    store.holdBack('birth-11007007-e', 'elterngeldstelle', undefined);
    expect(of('elterngeldstelle')).toEqual({ waiting: 3 });
    expect(store.heldBackReason('birth-11007007-e', 'elterngeldstelle')).toBeUndefined();
    // Once handed off, the hand-off's state counts, not the hold.
    store.apply([scheduled('birth-11007007-e', '22222222-2222-4222-8222-000000000001', 'familienkasse')], position);
    expect(of('familienkasse')).toEqual({ delivered: 1, 'held-back:no-idnr': 1, waiting: 1 });
    expect(heldBackOf(store.heldBack())).toEqual(heldBackOf(store.statesByRecipient({}, position)));
    for (const role of ['elterngeldstelle', 'familienkasse']) expect(Object.values(of(role)).reduce((a, n) => a + n, 0)).toBe(3);
    store.close();
  });

  it('counts late, escalated and dead-lettered hand-offs from their own index, whatever else the store holds', () => {
    const store = openProjectionStore(':memory:', randomBytes(32));
    const d = (n: number) => `33333333-3333-4333-8333-${String(n).padStart(12, '0')}`;
    const facts: ReadFact[] = [];
    // Many settled hand-offs, which the late figures must not count.
    for (let i = 0; i < 50; i++) {
      facts.push(registered(`birth-11007007-s${i}`, '11007007', true, true), scheduled(`birth-11007007-s${i}`, d(100 + i), 'familienkasse'));
      facts.push({ ...base(uuid(), `delivery-${d(100 + i)}`), kind: 'acknowledged', deliveryId: d(100 + i) });
    }
    facts.push(registered('birth-11007007-l', '11007007', true, true));
    for (const [n, role] of [[1, 'familienkasse'], [2, 'elterngeldstelle']] as const) facts.push(scheduled('birth-11007007-l', d(n), role));
    // One overdue that was escalated later, one given up after it was overdue.
    facts.push({ ...base(uuid(), `delivery-${d(1)}`), kind: 'overdue', deliveryId: d(1), dueAt: at, step: 'acknowledge' });
    facts.push({ ...base(uuid(), `delivery-${d(1)}`), kind: 'escalated', deliveryId: d(1), dueAt: at, step: 'acknowledge' });
    facts.push({ ...base(uuid(), `delivery-${d(2)}`), kind: 'overdue', deliveryId: d(2), dueAt: at, step: 'acknowledge' });
    facts.push({ ...base(uuid(), `delivery-${d(2)}`), kind: 'dead-lettered', deliveryId: d(2) });
    store.apply(facts, position);
    expect(store.counts()).toEqual({ cases: 51, handOffs: 52, overdue: 0, escalated: 1, deadLetters: 1, decisionOverdue: 0, decisionEscalated: 0 });
    // An answer ends the escalation: no longer counted.
    store.apply([{ ...base(uuid(), `delivery-${d(1)}`), kind: 'acknowledged', deliveryId: d(1) }], position);
    expect(store.counts()).toMatchObject({ overdue: 0, escalated: 0, deadLetters: 1 });
    store.close();
  });
});
