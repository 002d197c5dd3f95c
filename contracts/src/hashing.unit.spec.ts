import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from './canonicalJson.ts';
import { canonicalHash, sha256Hex } from './hashing.ts';

const reference = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('hashes every party agrees on', () => {
  it('sha256Hex: of bytes, and of a string as its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 60 }), (bytes, text) => {
        expect(sha256Hex(bytes)).toBe(reference(bytes));
        expect(sha256Hex(text)).toBe(reference(new TextEncoder().encode(text)));
      }),
    );
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('canonicalHash: SHA-256 of the canonical bytes, for any JSON value (umlauts, beyond the BMP, U+0000)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'grapheme', maxLength: 20 }), (value, text) => {
        const v = { value, text, name: 'Zoë Łukasiewicz 😀\u0000' };
        expect(canonicalHash(v)).toBe(reference(canonicalBytes(v)));
      }),
    );
  });
});
