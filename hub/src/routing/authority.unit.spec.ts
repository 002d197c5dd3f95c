import { describe, expect, it } from 'vitest';
import type { GeburtenregisterKey, Role, SubmissionType } from '../../../contracts/index.ts';
import { authorityTable, decideAuthority, decideIdNr, type AuthorityQuestion } from './authority.ts';
import { MeldebehoerdeTableSchema, responsibleMeldebehoerde } from './routingTable.ts';

const key = { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' } as GeburtenregisterKey;
const owner = { role: 'standesamt' as Role, dvdv: 'psw:11007007' };
const otherStandesamt = { role: 'standesamt' as Role, dvdv: 'psw:04011000' };
const meldebehoerde = { role: 'meldebehoerde' as Role, dvdv: 'mbh:11000000' };
const otherMeldebehoerde = { role: 'meldebehoerde' as Role, dvdv: 'mbh:04011000' };
const agency = { role: 'elterngeldstelle' as Role, dvdv: 'egs:11000000' };

/** Given the case (exists or not), when a signer submits an event type, then the verdict. */
const given = (caseState: 'case exists' | 'no case') => ({
  when: (signer: AuthorityQuestion['signer'], type: SubmissionType) => ({
    then: (expected: 'allowed' | 'role-not-allowed' | 'not-case-owner' | 'not-responsible' | 'unknown-case' | 'conflict') => {
      const verdict = decideAuthority({ type, signer, registerKey: key, caseExists: caseState === 'case exists', responsibleMeldebehoerde: 'mbh:11000000' });
      expect(verdict.success ? 'allowed' : verdict.error.code).toBe(expected);
    },
  }),
});

describe('who may say what about a birth case', () => {
  it('only the office named in the register key registers the birth, once', () => {
    given('no case').when(owner, 'BirthRegistered').then('allowed');
    given('no case').when(otherStandesamt, 'BirthRegistered').then('not-case-owner');
    given('case exists').when(owner, 'BirthRegistered').then('conflict');
    given('no case').when(meldebehoerde, 'BirthRegistered').then('role-not-allowed');
  });

  it('only the owning office corrects, passes on a consent withdrawal or revokes the tracking code, for an existing case', () => {
    for (const type of ['BirthRegistrationCorrected', 'ParentalConsentWithdrawn', 'TrackingCodeRevoked'] as const) {
      given('case exists').when(owner, type).then('allowed');
      given('case exists').when(otherStandesamt, type).then('not-case-owner');
      given('no case').when(owner, type).then('unknown-case');
      given('no case').when(otherStandesamt, type).then('not-case-owner');
      given('case exists').when(meldebehoerde, type).then('role-not-allowed');
    }
  });

  it('the IdNr comes from the Meldebehörde, for an existing case only; a Standesamt does not send it', () => {
    given('case exists').when(meldebehoerde, 'ChildIdNrAssigned').then('allowed');
    given('no case').when(meldebehoerde, 'ChildIdNrAssigned').then('unknown-case');
    given('case exists').when(owner, 'ChildIdNrAssigned').then('role-not-allowed');
  });

  it('only the Meldebehörde responsible for the case assigns its IdNr', () => {
    given('case exists').when(otherMeldebehoerde, 'ChildIdNrAssigned').then('not-responsible');
    given('no case').when(otherMeldebehoerde, 'ChildIdNrAssigned').then('not-responsible');
    const none = decideAuthority({ type: 'ChildIdNrAssigned', signer: meldebehoerde, registerKey: key, caseExists: true, responsibleMeldebehoerde: undefined });
    expect(none.success ? 'allowed' : none.error.code).toBe('not-responsible');
  });

  it('the responsible Meldebehörde: longest Standesamt prefix, then the default; the table is validated', () => {
    const table = MeldebehoerdeTableSchema.parse({ rules: [{ standesamtPrefix: '11', meldebehoerde: 'mbh:berlin' }, { standesamtPrefix: '1100', meldebehoerde: 'mbh:mitte' }], default: 'mbh:demo' });
    expect(responsibleMeldebehoerde(table, key)).toBe('mbh:mitte');
    expect(responsibleMeldebehoerde(table, { ...key, standesamtsnummer: '11990000' } as GeburtenregisterKey)).toBe('mbh:berlin');
    expect(responsibleMeldebehoerde(table, { ...key, standesamtsnummer: '04011000' } as GeburtenregisterKey)).toBe('mbh:demo');
    expect(responsibleMeldebehoerde(MeldebehoerdeTableSchema.parse({ rules: [{ standesamtPrefix: '11', meldebehoerde: 'mbh:berlin' }] }), { ...key, standesamtsnummer: '04011000' } as GeburtenregisterKey)).toBeUndefined();
    for (const bad of [
      { rules: [], default: 'psw:11007007' },
      { rules: [{ standesamtPrefix: '11', meldebehoerde: 'mbh:a' }, { standesamtPrefix: '11', meldebehoerde: 'mbh:b' }] },
      { rules: [{ standesamtPrefix: 'x', meldebehoerde: 'mbh:a' }] },
      { rules: [] },
    ]) expect(MeldebehoerdeTableSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  it('an IdNr once: the same again is a duplicate, a different one a conflict unless it is an explicit correction', () => {
    const verdict = (known: object, next: { childIdNr: string; parent1IdNr?: string; correction?: { reason: string } }) => {
      const v = decideIdNr(known, next);
      return v.success ? v.data : v.error.code;
    };
    expect(verdict({}, { childIdNr: '36574261809' })).toBe('new');
    expect(verdict({ childIdNr: '36574261809' }, { childIdNr: '36574261809' })).toBe('same');
    expect(verdict({ childIdNr: '36574261809' }, { childIdNr: '36574261809', parent1IdNr: '86095742719' })).toBe('new');
    expect(verdict({ childIdNr: '36574261809' }, { childIdNr: '86095742719' })).toBe('conflict');
    expect(verdict({ childIdNr: '36574261809', parent1IdNr: '86095742719' }, { childIdNr: '36574261809', parent1IdNr: '36574261809' })).toBe('conflict');
    expect(verdict({ childIdNr: '36574261809' }, { childIdNr: '86095742719', correction: { reason: 'Zahlendreher' } })).toBe('correction');
    expect(verdict({ childIdNr: '36574261809' }, { childIdNr: '36574261809', correction: { reason: 'nochmals' } })).toBe('same');
    expect(verdict({}, { childIdNr: '36574261809', correction: { reason: 'nichts zu berichtigen' } })).toBe('conflict');
  });

  it('agencies, auditors and the hub submit nothing', () => {
    for (const role of ['elterngeldstelle', 'familienkasse', 'auditor', 'hub'] as const) {
      for (const type of Object.keys(authorityTable) as SubmissionType[]) {
        given('case exists').when({ ...agency, role }, type).then('role-not-allowed');
      }
    }
  });

  it('ownership is the exact DVDV address psw:<Standesamtsnummer>, not a prefix or another directory', () => {
    given('case exists').when({ role: 'standesamt', dvdv: 'psw:110070070' }, 'BirthRegistrationCorrected').then('not-case-owner');
    given('case exists').when({ role: 'standesamt', dvdv: 'xyz:11007007' }, 'BirthRegistrationCorrected').then('not-case-owner');
  });

  it('the table names every submission type', () => {
    expect(Object.keys(authorityTable).sort()).toEqual(['BirthRegistered', 'BirthRegistrationCorrected', 'ChildIdNrAssigned', 'ParentalConsentWithdrawn', 'TrackingCodeRevoked']);
  });
});
