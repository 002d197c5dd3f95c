import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DeliveryPayloadSchema,
  ElterngeldDataSetSchema,
  elterngeldDataSetGap,
  kindergeldDataSetGap,
  toElterngeldDataSet,
  toKindergeldDataSet,
  type BirthRegisteredData,
  type ElfeEvent,
} from '../../../contracts/index.ts';
import { parseConfig } from '../config/config.ts';
import { makeScenarios } from '../demo/synthetic.ts';
import { idNrFrom, sampleBirthRegistration } from '../../../contracts/src/testing/sampleBirth.ts';
import { decide, evolve, initialState, isDecision, type CaseState, type DeliveryDecision } from './birthCase.ts';
import { childIdNr, childIdNrCorrected, corrected, registered, testRoutingTable, withdrawn } from './testing.ts';

/** Folds a case like the scheduler does: each decision is fed back as its DeliveryScheduled. */
const scheduled = (d: DeliveryDecision) => ({ type: 'DeliveryScheduled', data: { deliveryId: d.deliveryId, recipient: d.recipient } }) as unknown as ElfeEvent;

function run(events: readonly ElfeEvent[], state: CaseState = initialState): { state: CaseState; decisions: DeliveryDecision[]; stream: ElfeEvent[] } {
  const decisions: DeliveryDecision[] = [];
  const stream: ElfeEvent[] = [];
  for (const event of events) {
    const decided = decide(state, event, testRoutingTable).filter(isDecision);
    state = evolve(state, event);
    stream.push(event);
    for (const d of decided) {
      decisions.push(d);
      stream.push(scheduled(d));
      state = evolve(state, scheduled(d));
    }
  }
  return { state, decisions, stream };
}

/** Replays a recorded case stream from the start: every decision must already be in it. */
function replayAddsNothing(stream: readonly ElfeEvent[]): void {
  const recorded = new Set(stream.filter((e) => e.type === 'DeliveryScheduled').map((e) => (e as { data: { deliveryId: string } }).data.deliveryId));
  let state = initialState;
  for (const event of stream) {
    for (const d of decide(state, event, testRoutingTable).filter(isDecision)) expect(recorded.has(d.deliveryId)).toBe(true);
    state = evolve(state, event);
  }
}

const given = (...history: ElfeEvent[]) => ({
  when: (...events: ElfeEvent[]) => ({
    then: (expected: { role: string; kind: string; dvdv?: string }[]) => {
      const before = run(history);
      const { decisions } = run(events, before.state);
      expect(decisions.map((d) => ({ role: d.recipient.role, kind: d.kind, ...(expected.some((e) => e.dvdv) ? { dvdv: d.recipient.dvdv } : {}) }))).toEqual(expected);
      return decisions;
    },
  }),
});

const noConsent = sampleBirthRegistration({ consent: { elterngeldstelle: false } });
const consentWithoutAuftrag = sampleBirthRegistration({ consent: { elterngeldstelle: true } });
const childWithIdNr = (() => {
  const b = sampleBirthRegistration();
  return sampleBirthRegistration({ child: { ...b.child, idnr: idNrFrom('4817263940') } });
})();

describe('routing of a birth case', () => {
  it('with consent and auftragsnummer, the Elterngeldstelle gets the § 25 BEEG data set', () => {
    const [d] = given().when(registered()).then([{ role: 'elterngeldstelle', kind: 'initial', dvdv: 'egs:11000000' }]);
    expect(d!.legalBasis).toContain('§ 57 Abs. 1 Nr. 8 PStV');
    expect(ElterngeldDataSetSchema.parse(d!.payload)).toEqual(d!.payload);
    expect(JSON.stringify(d!.payload)).not.toMatch(/idnr|address|Musterweg|07:45/);
  });

  it('without consent, or without auftragsnummer, nothing goes to the Elterngeldstelle', () => {
    given().when(registered(noConsent)).then([]);
    given().when(registered(consentWithoutAuftrag)).then([]);
  });

  it('the parents\' named Elterngeldstelle wins when the table knows it', () => {
    const named = sampleBirthRegistration({ consent: { elterngeldstelle: true, auftragsnummer: 'EG-1', zustaendigeElterngeldstelle: 'egs:04011000' as never } });
    given().when(registered(named)).then([{ role: 'elterngeldstelle', kind: 'initial', dvdv: 'egs:04011000' }]);
  });

  it('the Familienkasse waits for the child\'s IdNr, which may arrive days later', () => {
    given(registered(noConsent)).when(childIdNr(noConsent)).then([{ role: 'familienkasse', kind: 'initial' }]);
  });

  it('a registration that already carries both IdNrs goes to the Familienkasse at once', () => {
    given().when(registered(childWithIdNr)).then([
      { role: 'elterngeldstelle', kind: 'initial' },
      { role: 'familienkasse', kind: 'initial' },
    ]);
  });

  it('the Familienkasse needs the entitled parent\'s IdNr too', () => {
    const b = sampleBirthRegistration({ consent: { elterngeldstelle: false } });
    const withoutParentId = sampleBirthRegistration({ consent: { elterngeldstelle: false }, parent1: { ...b.parent1, idnr: undefined } });
    given(registered(withoutParentId)).when(childIdNr(withoutParentId)).then([]);
  });

  it('a correction reaches every prior recipient, and only them', () => {
    const fixed = sampleBirthRegistration({ child: { ...sampleBirthRegistration().child, name: { firstNames: ['Mila'], familyName: 'Müller-Lüdenscheidt' } } });
    given(registered(), childIdNr()).when(corrected(fixed)).then([
      { role: 'elterngeldstelle', kind: 'correction' },
      { role: 'familienkasse', kind: 'correction' },
    ]);
    given(registered(noConsent)).when(corrected({ ...fixed, consent: { elterngeldstelle: false } })).then([]);
  });

  it('a correction names the delivery it corrects (the last one to the same recipient) and carries the Standesamt\'s reason; an initial delivery does neither', () => {
    const fixed = sampleBirthRegistration({ child: { ...sampleBirthRegistration().child, name: { firstNames: ['Mila'], familyName: 'Müller-Lüdenscheidt' } } });
    const first = run([registered(), childIdNr()]);
    expect(first.decisions.map((d) => d.kind)).toEqual(['initial', 'initial']);
    for (const d of first.decisions) expect(d).not.toHaveProperty('correction');
    const correction = corrected(fixed);
    const second = run([correction], first.state);
    expect(second.decisions).toHaveLength(2);
    for (const d of second.decisions) {
      const original = first.decisions.find((o) => o.recipient.role === d.recipient.role)!;
      expect(d.kind).toBe('correction');
      expect(d.correction).toEqual({ corrects: original.deliveryId, reason: correction.data.reason });
    }
    // A second correction refers to the first correction, not to the original.
    const again = corrected({ ...fixed, zuordnungGeburtsanzeige: 'GA-again' });
    const third = run([again], second.state);
    expect(third.decisions.map((d) => d.correction)).toEqual(
      second.decisions.map((d) => ({ corrects: d.deliveryId, reason: again.data.reason })),
    );
    // A correction that makes a recipient eligible for the first time is an initial delivery.
    const newly = run([corrected(sampleBirthRegistration())], run([registered(consentWithoutAuftrag)]).state);
    expect(newly.decisions.map((d) => [d.kind, 'correction' in d])).toEqual([['initial', false]]);
  });

  it('an explicit IdNr correction re-delivers to the Familienkasse only, as a correction of its last delivery with the reason', () => {
    const first = run([registered(), childIdNr()]);
    const fk = first.decisions.find((d) => d.recipient.role === 'familienkasse')!;
    const fix = childIdNrCorrected(sampleBirthRegistration(), idNrFrom('5928374615'), 'Zahlendreher');
    const second = run([fix], first.state);
    expect(second.decisions.map((d) => [d.recipient.role, d.kind])).toEqual([['familienkasse', 'correction']]);
    expect(second.decisions[0]!.correction).toEqual({ corrects: fk.deliveryId, reason: 'Zahlendreher' });
    expect((second.decisions[0]!.payload as { child: { idnr: string } }).child.idnr).toBe(idNrFrom('5928374615'));
    // A plain assignment after the first one decides nothing (the ingress refuses a different one as a conflict).
    expect(run([childIdNr(sampleBirthRegistration(), idNrFrom('5928374615'))], first.state).decisions).toEqual([]);
    replayAddsNothing([...first.stream, ...second.stream]);
  });

  it('deciding a correction again from the recorded stream gives the same reference and reason', () => {
    const history = [registered(), childIdNr(), corrected(sampleBirthRegistration({ zuordnungGeburtsanzeige: 'GA-7' }))];
    const first = run(history);
    const corrections = first.decisions.filter((d) => d.kind === 'correction');
    // The same events, decided again from a state without the corrections' own DeliveryScheduled.
    const before = run(history.slice(0, 2));
    expect(decide(before.state, history[2]!, testRoutingTable).filter(isDecision)).toEqual(corrections);
  });

  it('a withdrawal stops later deliveries to the Elterngeldstelle, corrections included', () => {
    const fixed = sampleBirthRegistration({ child: { ...sampleBirthRegistration().child, name: { firstNames: ['Mila'], familyName: 'Müller-Lüdenscheidt' } } });
    given(registered(), withdrawn()).when(corrected(fixed), childIdNr()).then([{ role: 'familienkasse', kind: 'initial' }]);
    given(registered(noConsent), withdrawn(noConsent)).when(corrected(fixed)).then([]);
  });

  it('a correction that newly makes a recipient eligible gives its first delivery', () => {
    given(registered(consentWithoutAuftrag)).when(corrected(sampleBirthRegistration())).then([{ role: 'elterngeldstelle', kind: 'initial' }]);
  });

  it('replaying a case decides nothing new', () => {
    const history = [registered(), childIdNr(), corrected(sampleBirthRegistration({ zuordnungGeburtsanzeige: 'GA-9' }))];
    const first = run(history);
    expect(first.decisions).toHaveLength(4);
    replayAddsNothing(first.stream);
    expect(run(history, first.state).decisions).toEqual([]);
  });

  it('a log written with delivery ids from before the hub namespace: replay decides only what it holds, by cause and recipient', () => {
    const fixed = corrected(sampleBirthRegistration({ zuordnungGeburtsanzeige: 'GA-old' }));
    const first = run([registered(), fixed]);
    const causeOf = (id: string) => first.decisions.find((d) => d.deliveryId === id)!.causationId;
    // The same stream as an older release wrote it: other delivery ids, same causes and recipients.
    const legacy = first.stream.map((e) =>
      e.type === 'DeliveryScheduled' ? ({ ...e, causationId: causeOf(e.data.deliveryId), data: { ...e.data, deliveryId: `legacy-${e.data.deliveryId}` } } as unknown as ElfeEvent) : e,
    );
    const recorded = new Set(first.decisions.map((d) => `${d.causationId}|${d.recipient.dvdv}`));
    let state = initialState;
    for (const event of legacy) {
      for (const d of decide(state, event, testRoutingTable).filter(isDecision)) expect(recorded.has(`${d.causationId}|${d.recipient.dvdv}`)).toBe(true);
      state = evolve(state, event);
    }
    // Once folded, the case decides nothing again for the same causes.
    expect(decide(state, fixed, testRoutingTable).filter(isDecision)).toEqual([]);
  });

  it('an unroutable case is reported, not thrown', () => {
    const elsewhere = sampleBirthRegistration({ registerKey: { standesamtsnummer: '09162000', registerart: 'G', jahr: 2026, eintragsnummer: '1' } as never });
    const out = decide(initialState, registered(elsewhere), testRoutingTable);
    expect(out).toEqual([{ unroutable: true, role: 'elterngeldstelle', reason: expect.stringContaining('09162000') }]);
  });
});

describe('routing properties', () => {
  const step = fc.constantFrom('corrected', 'withdrawn', 'idnr', 'noise');
  it('never delivers to the Elterngeldstelle without consent or after withdrawal; payloads stay within their data set', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { maxLength: 6 }), (consent, steps) => {
        const base = consent ? sampleBirthRegistration() : noConsent;
        const events: ElfeEvent[] = [registered(base)];
        for (const s of steps) {
          if (s === 'corrected') events.push(corrected({ ...base, zuordnungGeburtsanzeige: `GA-${events.length}` }));
          if (s === 'withdrawn') events.push(withdrawn(base));
          if (s === 'idnr') events.push(childIdNr(base));
        }
        let withdrawnYet = false;
        let state = initialState;
        const stream: ElfeEvent[] = [];
        for (const e of events) {
          if (e.type === 'ParentalConsentWithdrawn') withdrawnYet = true;
          const decided = decide(state, e, testRoutingTable).filter(isDecision);
          stream.push(e, ...decided.map(scheduled));
          for (const d of decided) {
            expect(DeliveryPayloadSchema.safeParse(d.payload).success).toBe(true);
            if (d.recipient.role === 'elterngeldstelle') {
              expect(consent && !withdrawnYet).toBe(true);
              expect(Object.keys(d.payload).sort()).toEqual(['auftragsnummer', 'child', 'dataSet', 'parent1', 'parent2', 'registerKey']);
            }
          }
          state = evolve(state, e);
          for (const d of decided) state = evolve(state, { type: 'DeliveryScheduled', data: { deliveryId: d.deliveryId, recipient: d.recipient } } as unknown as ElfeEvent);
        }
        replayAddsNothing(stream);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the outlook and the data sets agree', () => {
  it('a data set is missing exactly when its gap says why, for synthetic births with and without consent, names and IdNrs', () => {
    const scenarios = makeScenarios({ births: 300, seed: 99, standesaemter: parseConfig({}).standesaemter });
    let gaps = 0;
    for (const s of scenarios) {
      for (const registration of [s.registration, { ...s.registration, child: { ...s.registration.child, name: undefined } }, { ...s.registration, consent: { ...s.registration.consent, auftragsnummer: undefined } }] as BirthRegisteredData[]) {
        for (const ids of [{}, { childIdNr: s.childIdNr }, { childIdNr: s.childIdNr, parent1IdNr: s.parent1IdNr }]) {
          const egs = toElterngeldDataSet(registration);
          expect(elterngeldDataSetGap(registration)).toBe(egs.success ? undefined : egs.reason);
          for (const entitled of ['parent1', 'parent2'] as const) {
            const fk = toKindergeldDataSet(registration, ids, entitled);
            const gap = kindergeldDataSetGap(registration, ids, entitled);
            expect(gap).toBe(fk.success ? undefined : fk.reason);
            if (gap) gaps++;
          }
        }
      }
    }
    expect(gaps).toBeGreaterThan(0);
  });
});
