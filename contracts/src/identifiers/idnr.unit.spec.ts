import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIdNr, idNrCheckDigit, maskIdNr } from './idnr.ts';

// An independent reading of the rules in DOMAIN.md, written differently on purpose
// (digit histogram as an array, check digit as a fold), to test the validator against.
function referenceIsValid(s: string, testMode: boolean): boolean {
  if (s.length !== 11 || [...s].some((c) => c < '0' || c > '9')) return false;
  const digits = [...s].map(Number);
  if (digits[0] === 0 && !testMode) return false;
  const histogram = new Array<number>(10).fill(0);
  for (const d of digits.slice(0, 10)) histogram[d] = (histogram[d] ?? 0) + 1;
  const twiceOrThrice = histogram.filter((n) => n === 2 || n === 3).length;
  const more = histogram.filter((n) => n > 3).length;
  if (twiceOrThrice !== 1 || more !== 0) return false;
  const product = digits.slice(0, 10).reduce((p, d) => {
    const sum = (d + p) % 10 || 10;
    return (2 * sum) % 11;
  }, 10);
  return (11 - product) % 10 === digits[10];
}

/** Ten digits where exactly one digit occurs `times` times, the others at most once. */
const firstTenDigits = fc
  .tuple(fc.integer({ min: 2, max: 3 }), fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], { minLength: 9, maxLength: 9 }))
  .chain(([times, distinct]) => {
    const [repeated, ...others] = distinct;
    const digits = [...new Array<number>(times).fill(repeated ?? 0), ...others.slice(0, 10 - times)];
    return fc.shuffledSubarray(digits, { minLength: 10, maxLength: 10 }).map((d) => d.join(''));
  });

describe('IdNr', () => {
  it('accepts the example from the domain brief and masks it for logs', () => {
    const result = checkIdNr('36574261809');
    expect(result.success).toBe(true);
    expect(maskIdNr('36574261809')).toBe('36574*****9');
  });

  it.each([
    ['3657426180', 'not-eleven-digits'],
    ['365742618090', 'not-eleven-digits'],
    ['3657426180a', 'not-eleven-digits'],
    ['36574261808', 'check-digit'],
    ['12345678903', 'digit-repetition'], // every digit once
    ['11112345670', 'digit-repetition'], // one digit four times
    ['11223456780', 'digit-repetition'], // two digits repeated
  ])('refuses %s with %s', (input, code) => {
    const result = checkIdNr(input);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.code).toBe(code);
  });

  it('accepts test IdNrs (leading 0) only in test mode', () => {
    const firstTen = '0123456788';
    const idnr = `${firstTen}${idNrCheckDigit(firstTen)}`;
    const strict = checkIdNr(idnr);
    expect(strict.success).toBe(false);
    if (!strict.success) expect(strict.error.code).toBe('leading-zero');
    expect(checkIdNr(idnr, { testMode: true }).success).toBe(true);
  });

  it('agrees with an independent implementation on arbitrary 11-digit strings', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{11}$/), fc.boolean(), (s, testMode) => {
        expect(checkIdNr(s, { testMode }).success).toBe(referenceIsValid(s, testMode));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the independent implementation on well-formed candidates with any last digit', () => {
    fc.assert(
      fc.property(firstTenDigits, fc.integer({ min: 0, max: 9 }), fc.boolean(), (ten, last, testMode) => {
        const s = `${ten}${last}`;
        expect(checkIdNr(s, { testMode }).success).toBe(referenceIsValid(s, testMode));
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts every well-formed number with its computed check digit (test mode for leading 0)', () => {
    fc.assert(
      fc.property(firstTenDigits, (ten) => {
        const s = `${ten}${idNrCheckDigit(ten)}`;
        expect(checkIdNr(s, { testMode: true }).success).toBe(true);
        expect(referenceIsValid(s, true)).toBe(true);
      }),
      { numRuns: 10_000 },
    );
  });
});
