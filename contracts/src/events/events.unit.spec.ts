import { describe, expect, it } from 'vitest';
import { sampleBirthRegistration } from '../testing/sampleBirth.ts';
import { BirthRegisteredDataSchema } from './birthRegistered.ts';
import { toElterngeldDataSet } from './dataSets.ts';
import { ElfeEventSchema } from './events.ts';
import { parseEvent, upcast, type Upcaster } from './upcasting.ts';

const envelope = {
  messageId: '6f1c2a4e-8d7b-4c1e-9a53-2b7e4f0d9c11',
  schemaVersion: 1,
  occurredAt: '2026-11-02T08:00:00.000+01:00',
  producer: { dvdv: 'psw:11007007', name: 'Standesamt Bremen-Mitte', role: 'standesamt' },
  legalBasis: '§ 57 Abs. 1 Nr. 8 PStV',
  purpose: 'Mitteilung der Geburt',
  correlationId: '0b7d4c2e-3f5a-4e6b-8c9d-1a2b3c4d5e6f',
};

describe('events', () => {
  it('accepts a realistic BirthRegistered and keeps DIN 91379 names', () => {
    const parsed = ElfeEventSchema.safeParse({ ...envelope, type: 'BirthRegistered', data: sampleBirthRegistration() });
    expect(parsed.success).toBe(true);
    if (parsed.success && parsed.data.type === 'BirthRegistered') {
      expect(parsed.data.data.child.name?.firstNames).toEqual(['Mia', 'Zoë']);
    }
  });

  it('normalises names to NFC (combining diaeresis becomes ü)', () => {
    const birth = sampleBirthRegistration();
    const decomposed = { ...birth, parent2: { ...birth.parent2!, name: { firstNames: ['Jürgen'.normalize('NFD')], familyName: 'Möller' } } };
    const parsed = BirthRegisteredDataSchema.parse(decomposed);
    expect(parsed.parent2?.name.firstNames?.[0]).toBe('Jürgen');
  });

  it.each([
    ['a name outside DIN 91379', (b: ReturnType<typeof sampleBirthRegistration>) => ({ ...b, parent1: { ...b.parent1, name: { firstNames: ['Ив'], familyName: 'Müller' } } })],
    ['an invalid IdNr', (b: ReturnType<typeof sampleBirthRegistration>) => ({ ...b, parent1: { ...b.parent1, idnr: '36574261808' } })],
    ['an impossible date', (b: ReturnType<typeof sampleBirthRegistration>) => ({ ...b, child: { ...b.child, birth: { date: '2026-02-30', exact: false } } })],
    ['an unknown field', (b: ReturnType<typeof sampleBirthRegistration>) => ({ ...b, religion: 'rk' })],
  ])('refuses %s', (_label, mutate) => {
    expect(BirthRegisteredDataSchema.safeParse(mutate(sampleBirthRegistration())).success).toBe(false);
  });

  it('refuses an event whose type is unknown', () => {
    expect(ElfeEventSchema.safeParse({ ...envelope, type: 'BirthCelebrated', data: {} }).success).toBe(false);
  });
});

describe('DeliveryScheduled of a correction', () => {
  const jwe = 'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.a2V5.aXY.Y2lwaGVy.dGFn';
  const scheduled = (data: Record<string, unknown>) => ({
    ...envelope,
    messageId: 'e1fe0001-8d7b-8c1e-9a53-2b7e4f0d9c11',
    producer: { dvdv: 'hub:elfe-hub', name: 'elfe-hub', role: 'hub' },
    type: 'DeliveryScheduled',
    data: {
      deliveryId: 'e1fe0001-8d7b-8c1e-9a53-2b7e4f0d9c11',
      registerKey: sampleBirthRegistration().registerKey,
      recipient: { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' },
      kind: 'correction',
      legalBasis: '§ 57 Abs. 1 Nr. 8 PStV',
      purpose: 'Mitteilung einer Berichtigung',
      payloadJwe: jwe,
      payloadHash: 'a'.repeat(64),
      ...data,
    },
  });
  const corrects = 'e1fe0001-0000-8000-8000-000000000001';
  const set = toElterngeldDataSet(sampleBirthRegistration());
  const dataSet = set.success ? set.data : undefined;

  it('stays valid without a correction (logs written before it existed)', () => {
    expect(ElfeEventSchema.safeParse(scheduled({})).success).toBe(true);
  });

  it('carries the corrected delivery and the reason, encrypted when the payload is', () => {
    expect(ElfeEventSchema.safeParse(scheduled({ correction: { corrects, reasonJwe: jwe } })).success).toBe(true);
    const clear = scheduled({ payloadJwe: undefined, payload: dataSet, correction: { corrects, reason: 'Berichtigung (§ 47 PStG)' } });
    expect(ElfeEventSchema.safeParse(clear).success).toBe(true);
  });

  it.each([
    ['a clear reason beside an encrypted payload', { correction: { corrects, reason: 'Berichtigung (§ 47 PStG)' } }],
    ['an encrypted and a clear reason at once', { correction: { corrects, reason: 'x', reasonJwe: jwe } }],
    ['no reason at all', { correction: { corrects } }],
    ['an encrypted reason beside a clear payload', { payloadJwe: undefined, payload: dataSet, correction: { corrects, reasonJwe: jwe } }],
    ['a reference that is not a delivery id', { correction: { corrects: 'G 334/2026', reasonJwe: jwe } }],
    ['a correction on an initial delivery', { kind: 'initial', correction: { corrects, reasonJwe: jwe } }],
  ])('refuses %s', (_label, data) => {
    expect(ElfeEventSchema.safeParse(scheduled(data)).success).toBe(false);
  });
});

describe('upcasting', () => {
  // A v0 ChildIdNrAssigned carried the child's IdNr as `idnr`; v1 calls it `childIdNr`.
  const renameIdNr: Upcaster = {
    type: 'ChildIdNrAssigned',
    fromVersion: 0,
    upcast: (raw) => {
      const { idnr, ...rest } = raw['data'] as Record<string, unknown>;
      return { ...raw, data: { ...rest, childIdNr: idnr } };
    },
  };
  const old = {
    ...envelope,
    producer: { dvdv: 'mb:04011000', name: 'Meldebehörde Bremen', role: 'meldebehoerde' },
    type: 'ChildIdNrAssigned',
    schemaVersion: 0,
    data: { registerKey: sampleBirthRegistration().registerKey, idnr: '36574261809' },
  };

  it('reads an old event through its upcaster chain', () => {
    const parsed = parseEvent(old, [renameIdNr]);
    expect(parsed.success).toBe(true);
    if (parsed.success && parsed.data.type === 'ChildIdNrAssigned') {
      expect(parsed.data.schemaVersion).toBe(1);
      expect(parsed.data.data.childIdNr).toBe('36574261809');
    }
  });

  it('does not change the raw input and refuses old events without an upcaster', () => {
    const copy = structuredClone(old);
    upcast(old, [renameIdNr]);
    expect(old).toEqual(copy);
    expect(parseEvent(old, []).success).toBe(false);
  });
});
