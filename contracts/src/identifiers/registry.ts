import { z } from 'zod';
import { fail, ok, type Result } from '../result.ts';

/** Standesamtsnummer: 8 digits, e.g. `11007007`. */
export const StandesamtsnummerSchema = z
  .string()
  .regex(/^\d{8}$/, 'a Standesamtsnummer has 8 digits')
  .brand<'Standesamtsnummer'>();
export type Standesamtsnummer = z.infer<typeof StandesamtsnummerSchema>;

/** Key of an entry in the Geburtenregister. */
export const GeburtenregisterKeySchema = z
  .object({
    standesamtsnummer: StandesamtsnummerSchema,
    registerart: z.literal('G'),
    /** Year of the first Beurkundung; may differ from the birth year around New Year. */
    jahr: z.number().int().min(1876).max(9999),
    eintragsnummer: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z./-]{0,19}$/, 'eintragsnummer: 1 to 20 characters'),
  })
  .strict();
export type GeburtenregisterKey = z.infer<typeof GeburtenregisterKeySchema>;

/** As certificates print it: `G 334/2026`. */
export function printRegisterEntry(key: GeburtenregisterKey): string {
  return `${key.registerart} ${key.eintragsnummer}/${key.jahr}`;
}

/** Unique text form: `11007007/G/2026/334`. */
export function formatRegisterKey(key: GeburtenregisterKey): string {
  return `${key.standesamtsnummer}/${key.registerart}/${key.jahr}/${key.eintragsnummer}`;
}

export interface RegisterKeyError {
  readonly code: 'register-key';
  readonly message: string;
}

/**
 * Parses `11007007/G/2026/334`, or the certificate form `G 334/2026` when the
 * Standesamtsnummer is given separately.
 */
export function parseRegisterKey(text: string, standesamtsnummer?: string): Result<GeburtenregisterKey, RegisterKeyError> {
  const full = /^(\d{8})\/(G)\/(\d{4})\/([^/\s]+)$/.exec(text.trim());
  const printed = /^(G)\s+([^/\s]+)\/(\d{4})$/.exec(text.trim());
  const candidate = full
    ? { standesamtsnummer: full[1], registerart: full[2], jahr: Number(full[3]), eintragsnummer: full[4] }
    : printed && standesamtsnummer !== undefined
      ? { standesamtsnummer, registerart: printed[1], jahr: Number(printed[3]), eintragsnummer: printed[2] }
      : undefined;
  if (!candidate) {
    return fail({
      code: 'register-key',
      message: `not a Geburtenregister key: '${text}' (expected 11007007/G/2026/334, or G 334/2026 with a Standesamtsnummer)`,
    });
  }
  const parsed = GeburtenregisterKeySchema.safeParse(candidate);
  return parsed.success
    ? ok(parsed.data)
    : fail({ code: 'register-key', message: parsed.error.issues.map((i) => i.message).join('; ') });
}

/** DVDV address `<prefix>:<kennung>`, e.g. `psw:11007007` (prefix psw = Standesamt). */
export const DvdvAddressSchema = z
  .string()
  .regex(/^[a-z]{2,5}:[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/, 'a DVDV address is <prefix>:<kennung>, e.g. psw:11007007')
  .brand<'DvdvAddress'>();
export type DvdvAddress = z.infer<typeof DvdvAddressSchema>;

/** Kindergeldnummer, e.g. `111FK396431`; one per entitled person, shared by siblings. */
export const KindergeldnummerSchema = z
  .string()
  .regex(/^\d{3}FK\d{6}$/, 'a Kindergeldnummer looks like 111FK396431')
  .brand<'Kindergeldnummer'>();
export type Kindergeldnummer = z.infer<typeof KindergeldnummerSchema>;
