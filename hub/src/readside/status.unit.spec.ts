// Where a hand-off stands, from projected rows alone. Case ids are keyed (`birth-` and 32 hex
// digits of an HMAC): nothing about the case may be read out of the id, the Standesamt whose
// turn it is after a rejection comes from the case's row.
import { describe, expect, it } from 'vitest';
import { caseStatus, deadlinePassed, handOffStatus, type CaseRow, type HandOffRow, type StatusContext } from './status.ts';

const caseId = 'birth-3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b';
const kase: CaseRow = {
  caseId,
  registerKey: '11007007/G/2026/334',
  standesamt: '11007007',
  registeredAt: '2026-11-20T10:00:00.000Z',
  consent: true,
  consentWithdrawnAt: null,
  idnrKnown: true,
  erasedAt: null,
};
const handOff = (over: Partial<HandOffRow> = {}): HandOffRow => ({
  deliveryId: '11111111-1111-4111-8111-000000000001',
  caseId,
  standesamt: '11007007',
  recipient: 'egs:11000000',
  recipientName: 'Elterngeldstelle Berlin',
  role: 'elterngeldstelle',
  kind: 'initial',
  legalBasis: '§ 25 BEEG',
  purpose: 'Elterngeld',
  dataSet: 'beeg-25',
  scheduledAt: '2026-11-20T10:00:01.000Z',
  scheduledPosition: 10,
  outcome: null,
  answeredAt: null,
  reason: null,
  overdueAt: null,
  escalatedAt: null,
  receivedAt: null,
  decidedAt: null,
  decisionOverdueAt: null,
  decisionEscalatedAt: null,
  ...over,
});
const ctx: StatusContext = { relayPosition: 11, heldBack: () => undefined };

describe('handOffStatus', () => {
  it('names the case\'s Standesamt as the next party after a rejection, not a piece of the keyed case id', () => {
    const s = handOffStatus(handOff({ outcome: 'rejected', answeredAt: '2026-11-20T10:05:00.000Z', reason: 'schema: bad' }), ctx);
    expect(s.state).toBe('rejected');
    expect(s.nextParty).toBe('psw:11007007');
    expect(s.why).toContain('schema: bad');
  });

  it('names no next party after a rejection when the case\'s Standesamt is unknown (its row is gone)', () => {
    const s = handOffStatus(handOff({ standesamt: null, outcome: 'rejected', answeredAt: '2026-11-20T10:05:00.000Z', reason: 'x' }), ctx);
    expect(s.state).toBe('rejected');
    expect(s.nextParty).toBeUndefined();
  });

  it('is scheduled (the hub\'s turn) until the relay passed its position, then delivered (the recipient\'s turn)', () => {
    expect(handOffStatus(handOff(), { relayPosition: 10 })).toMatchObject({ state: 'scheduled', nextParty: 'hub' });
    const delivered = handOffStatus(handOff(), { relayPosition: 11 });
    expect(delivered).toMatchObject({ state: 'delivered', nextParty: 'egs:11000000', overdue: false, escalated: false });
    expect(delivered.steps.map((x) => x.step)).toEqual(['scheduled', 'delivered']);
  });

  it('is finished when acknowledged (no next party) and late only while unanswered', () => {
    const ack = handOffStatus(handOff({ outcome: 'acknowledged', answeredAt: '2026-11-21T10:00:00.000Z', overdueAt: '2026-11-21T09:00:00.000Z' }), ctx);
    expect(ack).toMatchObject({ state: 'acknowledged', overdue: false });
    expect(ack.nextParty).toBeUndefined();
    expect(ack.steps.map((x) => x.step)).toEqual(['scheduled', 'delivered', 'overdue', 'acknowledged']);
    const late = handOffStatus(handOff({ overdueAt: '2026-11-21T09:00:00.000Z', escalatedAt: '2026-11-22T09:00:00.000Z' }), ctx);
    expect(late).toMatchObject({ state: 'delivered', overdue: true, escalated: true });
  });

  it('leaves a dead letter with the recipient', () => {
    expect(handOffStatus(handOff({ outcome: 'dead-letter', answeredAt: '2026-11-20T11:00:00.000Z', reason: 'given up after 5 delivery attempts' }), ctx)).toMatchObject({
      state: 'dead-letter',
      nextParty: 'egs:11000000',
    });
  });
});

describe('caseStatus', () => {
  it('gives the rejected hand-off of a keyed case back to its Standesamt', () => {
    const s = caseStatus(kase, [handOff({ outcome: 'rejected', answeredAt: '2026-11-20T10:05:00.000Z', reason: 'x' })], ctx);
    expect(s.recipients.find((r) => r.role === 'elterngeldstelle')).toMatchObject({ state: 'rejected', nextParty: 'psw:11007007' });
    expect(s.recipients.find((r) => r.role === 'elterngeldstelle')?.steps[0]).toEqual({ step: 'registered', at: kase.registeredAt });
  });

  it('says why a recipient without a hand-off is held back, one entry per role', () => {
    const held = (c: Partial<CaseRow>, heldBack: StatusContext['heldBack'] = () => undefined) =>
      caseStatus({ ...kase, ...c }, [], { relayPosition: 0, heldBack }).recipients.map((r) => [r.role, r.state, r.why.split(':')[0], r.nextParty ?? null]);
    expect(held({ consent: false, idnrKnown: false })).toEqual([
      ['elterngeldstelle', 'held-back', 'no consent', null],
      ['familienkasse', 'held-back', 'no IdNr yet', 'meldebehoerde'],
    ]);
    expect(held({ consentWithdrawnAt: '2026-11-20T12:00:00.000Z' })[0]).toEqual(['elterngeldstelle', 'held-back', 'consent withdrawn', null]);
    expect(held({ erasedAt: '2026-11-20T12:00:00.000Z' }).map((r) => r[2])).toEqual(['erased', 'erased']);
    expect(held({}, (id, role) => (id === caseId && role === 'familienkasse' ? 'expired' : undefined))).toEqual([
      ['elterngeldstelle', 'held-back', 'not yet decided by routing', 'hub'],
      ['familienkasse', 'held-back', 'recipient certificate unusable', 'ca'],
    ]);
  });
});

describe('deadlinePassed', () => {
  const limits = { acknowledgeWithinMs: 60_000, escalateAfterMs: 120_000 };
  const h = handOff();
  it('is overdue after the acknowledgement limit, escalated after the escalation limit, nothing once answered', () => {
    expect(deadlinePassed(h, limits, new Date('2026-11-20T10:00:30.000Z'))).toBeUndefined();
    expect(deadlinePassed(h, limits, new Date('2026-11-20T10:01:01.000Z'))).toEqual({ step: 'overdue', dueAt: '2026-11-20T10:01:01.000Z' });
    expect(deadlinePassed({ ...h, overdueAt: '2026-11-20T10:01:01.000Z' }, limits, new Date('2026-11-20T10:01:30.000Z'))).toBeUndefined();
    expect(deadlinePassed(h, limits, new Date('2026-11-20T10:02:01.000Z'))).toEqual({ step: 'escalated', dueAt: '2026-11-20T10:02:01.000Z' });
    expect(deadlinePassed({ ...h, outcome: 'acknowledged' }, limits, new Date('2026-11-21T00:00:00.000Z'))).toBeUndefined();
  });
});
