import { describe, expect, it } from 'vitest';
import { idNrFrom, sampleBirthRegistration } from '../testing/sampleBirth.ts';
import { toElterngeldDataSet, toKindergeldDataSet } from './dataSets.ts';

const ids = { childIdNr: idNrFrom('1234567899'), parent1IdNr: idNrFrom('3657426180'), parent2IdNr: idNrFrom('2345678911') };

describe('data sets when XPersonenstand left optional data out', () => {
  const birth = sampleBirthRegistration({
    child: { name: { firstNames: ['Mia'] }, sex: 'w', birth: { date: '2026-11-01', exact: false }, placeOfBirth: {} },
    parent2: { name: { familyName: 'Lee' }, sex: 'm' },
  });

  it('the § 25 BEEG data set carries what is there and leaves the rest out', () => {
    const set = toElterngeldDataSet(birth);
    if (!set.success) throw new Error(set.reason);
    expect(set.data.child).toEqual({ firstNames: ['Mia'], birthDate: '2026-11-01', placeOfBirth: {} });
    expect(set.data.parent2).toEqual({ familyName: 'Lee' });
  });

  it('Kindergeld for an entitled parent without birth date is a typed reason, not a crash', () => {
    expect(toKindergeldDataSet(birth, ids, 'parent2')).toEqual({ success: false, reason: 'no-entitled-birth-date' });
    expect(toKindergeldDataSet(birth, ids, 'parent1').success).toBe(true);
  });
});
