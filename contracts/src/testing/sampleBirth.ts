import { idNrCheckDigit } from '../identifiers/idnr.ts';
import type { z } from 'zod';
import { BirthRegisteredDataSchema, type BirthRegisteredData } from '../events/birthRegistered.ts';

type BirthInput = z.input<typeof BirthRegisteredDataSchema>;

/** A valid IdNr built from ten digits (which must satisfy the repetition rule). */
export function idNrFrom(firstTen: string): string {
  return `${firstTen}${idNrCheckDigit(firstTen)}`;
}

/** A fictional, valid birth registration for tests and examples (validated, so overrides must be valid too). */
export function sampleBirthRegistration(overrides: Partial<BirthInput> = {}): BirthRegisteredData {
  return BirthRegisteredDataSchema.parse({
    registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' },
    child: {
      name: { firstNames: ['Mia', 'Zoë'], familyName: 'Müller-Lüdenscheidt' },
      sex: 'w',
      birth: { date: '2026-11-01', time: '07:45', exact: true },
      placeOfBirth: { city: 'Bremen', street: 'Kliniksstraße', houseNumber: '10' },
    },
    parent1: {
      name: { firstNames: ['Sophie'], familyName: 'Müller-Lüdenscheidt', birthName: 'Ørsted' },
      birthDate: '1994-05-17',
      sex: 'w',
      address: { street: 'Musterweg', houseNumber: '7', postcode: '28195', city: 'Bremen' },
      idnr: idNrFrom('3657426180'),
    },
    parent2: {
      name: { firstNames: ['José', 'Åke'], familyName: 'Müller-Lüdenscheidt' },
      birthDate: '1992-01-30',
      sex: 'm',
      address: { street: 'Musterweg', houseNumber: '7', postcode: '28195', city: 'Bremen' },
    },
    consent: { elterngeldstelle: true, auftragsnummer: 'EG-2026-4711' },
    zuordnungGeburtsanzeige: 'GA-2026-11-0001',
    sourceMessageIds: ['3f2504e0-4f89-41d3-9a0c-0305e82c3020', '3f2504e0-4f89-41d3-9a0c-0305e82c3021'],
    ...overrides,
  });
}
