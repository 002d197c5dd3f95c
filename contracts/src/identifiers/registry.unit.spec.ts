import { describe, expect, it } from 'vitest';
import {
  DvdvAddressSchema,
  formatRegisterKey,
  KindergeldnummerSchema,
  parseRegisterKey,
  printRegisterEntry,
  StandesamtsnummerSchema,
} from './registry.ts';

describe('Geburtenregister key', () => {
  it('parses the full form and prints the certificate form', () => {
    const result = parseRegisterKey('11007007/G/2026/334');
    expect(result.success).toBe(true);
    if (!result.success) return;
    expect(result.data).toEqual({ standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' });
    expect(printRegisterEntry(result.data)).toBe('G 334/2026');
    expect(formatRegisterKey(result.data)).toBe('11007007/G/2026/334');
  });

  it('parses the certificate form with a separate Standesamtsnummer', () => {
    const result = parseRegisterKey('G 334/2026', '11007007');
    expect(result.success && formatRegisterKey(result.data)).toBe('11007007/G/2026/334');
  });

  it('keeps the eintragsnummer a string (leading zeros survive)', () => {
    const result = parseRegisterKey('11007007/G/2027/0001');
    expect(result.success && result.data.eintragsnummer).toBe('0001');
  });

  it.each(['G 334/2026', '1100700/G/2026/334', '11007007/E/2026/334', '11007007/G/26/334', ''])('refuses %j', (text) => {
    const result = parseRegisterKey(text);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.code).toBe('register-key');
  });
});

describe('other identifiers', () => {
  it('checks Standesamtsnummer, DVDV address and Kindergeldnummer', () => {
    expect(StandesamtsnummerSchema.safeParse('11007007').success).toBe(true);
    expect(StandesamtsnummerSchema.safeParse('1100700X').success).toBe(false);
    expect(DvdvAddressSchema.safeParse('psw:11007007').success).toBe(true);
    expect(DvdvAddressSchema.safeParse('11007007').success).toBe(false);
    expect(KindergeldnummerSchema.safeParse('111FK396431').success).toBe(true);
    expect(KindergeldnummerSchema.safeParse('111fk396431').success).toBe(false);
    expect(KindergeldnummerSchema.safeParse('11FK3964311').success).toBe(false);
  });
});
