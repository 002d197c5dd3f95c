import { z } from 'zod';
import { fail, ok, type Result } from '../result.ts';

/** Steuerliche Identifikationsnummer (IdNr, Steuer-ID), validated. */
export type IdNr = string & z.$brand<'IdNr'>;

export type IdNrProblem =
  | 'not-eleven-digits'
  | 'leading-zero'
  | 'digit-repetition'
  | 'check-digit';

export interface IdNrError {
  readonly code: IdNrProblem;
  readonly message: string;
}

export interface IdNrOptions {
  /** Accept test IdNrs issued by the tax office (first digit 0). Never in production. */
  readonly testMode?: boolean;
}

/** ISO 7064 MOD 11,10 check digit over the first ten digits. */
export function idNrCheckDigit(firstTen: string): number {
  let product = 10;
  for (const ch of firstTen) {
    let sum = (Number(ch) + product) % 10;
    if (sum === 0) sum = 10;
    product = (2 * sum) % 11;
  }
  const check = 11 - product;
  return check === 10 ? 0 : check;
}

function problem(code: IdNrProblem, message: string) {
  return fail<IdNrError>({ code, message });
}

/** Checks every rule of the IdNr (length, first digit, digit repetition, check digit). */
export function checkIdNr(input: string, options: IdNrOptions = {}): Result<IdNr, IdNrError> {
  if (!/^\d{11}$/.test(input)) return problem('not-eleven-digits', 'an IdNr has exactly 11 digits');
  if (input[0] === '0' && !options.testMode) {
    return problem('leading-zero', 'an IdNr does not start with 0 (test IdNrs only in test mode)');
  }
  const counts = new Map<string, number>();
  for (const ch of input.slice(0, 10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const repeated = [...counts.values()].filter((n) => n > 1);
  if (repeated.length !== 1 || (repeated[0] ?? 0) > 3) {
    return problem(
      'digit-repetition',
      'among the first ten digits exactly one digit occurs twice or three times, every other at most once',
    );
  }
  if (idNrCheckDigit(input.slice(0, 10)) !== Number(input[10])) {
    return problem('check-digit', 'the check digit (ISO 7064 MOD 11,10) does not match');
  }
  return ok(input as IdNr);
}

/** The IdNr as it may appear in logs: `36574*****9`. */
export function maskIdNr(idnr: string): string {
  if (idnr.length !== 11) return '***********';
  return `${idnr.slice(0, 5)}*****${idnr.slice(10)}`;
}

/** zod schema of a production IdNr (test IdNrs refused). */
export const IdNrSchema = z
  .string()
  .regex(/^[1-9]\d{10}$/, 'an IdNr has 11 digits and does not start with 0')
  .superRefine((value, ctx) => {
    const result = checkIdNr(value);
    if (!result.success) ctx.addIssue({ code: 'custom', message: result.error.message, params: { code: result.error.code } });
  })
  .brand<'IdNr'>()
  .describe('Steuerliche Identifikationsnummer: 11 digits, ISO 7064 MOD 11,10 check digit');

/** zod schema that also accepts test IdNrs (first digit 0), for test mode only. */
export const TestModeIdNrSchema = z
  .string()
  .regex(/^\d{11}$/, 'an IdNr has 11 digits')
  .superRefine((value, ctx) => {
    const result = checkIdNr(value, { testMode: true });
    if (!result.success) ctx.addIssue({ code: 'custom', message: result.error.message, params: { code: result.error.code } });
  })
  .brand<'IdNr'>();
