import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derInteger, normalizeSerial, readDerInteger, readTlv, signedParts } from './x509.ts';

describe('DER helpers', () => {
  it('writes and reads back every safe non-negative integer (the CRL number)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => readDerInteger(derInteger(n)) === n));
    expect([...derInteger(128)]).toEqual([0x02, 0x02, 0x00, 0x80]);
    expect(() => derInteger(-1)).toThrow(RangeError);
  });

  it('refuses truncated, over-long and negative input instead of reading past it', () => {
    expect(() => readTlv(Uint8Array.from([0x30]), 0)).toThrow(RangeError);
    expect(() => readTlv(Uint8Array.from([0x30, 0x05, 0x00]), 0)).toThrow(RangeError);
    expect(() => readTlv(Uint8Array.from([0x30, 0x85, 1, 1, 1, 1, 1]), 0)).toThrow(RangeError);
    expect(() => readDerInteger(Uint8Array.from([0x02, 0x01, 0xff]))).toThrow(RangeError);
    expect(() => signedParts(Uint8Array.from([0x30, 0x02, 0x30, 0x00]))).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          signedParts(bytes);
        } catch (error) {
          return error instanceof RangeError;
        }
        return true;
      }),
    );
  });

  it('writes serials in one form: uppercase hex without leading zeros', () => {
    expect(normalizeSerial('00ab01')).toBe('AB01');
    expect(normalizeSerial('0')).toBe('0');
  });
});
