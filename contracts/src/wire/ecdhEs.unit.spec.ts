// The key agreement's parts against the RFCs' own vectors: RFC 7518 Appendix C (ECDH-ES on
// P-256 and the Concat KDF) and RFC 3394 §4.6 (AES-256 Key Wrap of a 256-bit key).
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aesKeyUnwrap, aesKeyWrap, agreeEphemeral, agreeStatic, concatKdf, p256Point } from './ecdhEs.ts';

const b64u = (text: string): Buffer => Buffer.from(text, 'base64url');
const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const privateKey = (jwk: { x: string; y: string; d: string }) => createPrivateKey({ key: { kty: 'EC', crv: 'P-256', ...jwk }, format: 'jwk' });

describe('ECDH-ES parts (RFC 7518 §4.6)', () => {
  it('agrees on Z and derives the key of RFC 7518 Appendix C', () => {
    const alice = { x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0', y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps', d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo' };
    const bob = { x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ', y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck', d: 'VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw' };
    const z = Buffer.from([158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196]);
    const alicePoint = p256Point(b64u(alice.x), b64u(alice.y));
    const bobPoint = p256Point(b64u(bob.x), b64u(bob.y));
    expect(alicePoint && bobPoint).toBeDefined();
    expect(agreeStatic(privateKey(bob), alicePoint!)).toEqual(z);
    expect(agreeStatic(privateKey(alice), bobPoint!)).toEqual(z);
    // Appendix C is direct key agreement: AlgorithmID is the enc ("A128GCM"), 128 bits, apu "Alice", apv "Bob".
    const derived = concatKdf(z, { algorithmId: 'A128GCM', keyDataBits: 128, apu: Buffer.from('Alice'), apv: Buffer.from('Bob') });
    expect(derived.toString('base64url')).toBe('VqqN6vgjbSBcIijNcacQGg');
    expect([...derived]).toEqual([86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26]);
  });

  it('derives more than one hash of key material as counter-numbered rounds', () => {
    const z = Buffer.alloc(32, 7);
    const long = concatKdf(z, { algorithmId: 'x', keyDataBits: 384 });
    expect(long).toHaveLength(48);
    expect(long.subarray(0, 32)).not.toEqual(concatKdf(z, { algorithmId: 'x', keyDataBits: 256 }));
    expect(() => concatKdf(z, { algorithmId: 'x', keyDataBits: 100 })).toThrow(RangeError);
  });

  it('wraps as RFC 3394 §4.6 and refuses to unwrap under another key or altered', () => {
    const kek = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
    const key = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
    const wrapped = aesKeyWrap(kek, key);
    expect(wrapped.toString('hex').toUpperCase()).toBe('28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21');
    expect(aesKeyUnwrap(kek, wrapped)).toEqual(key);
    expect(aesKeyUnwrap(Buffer.alloc(32), wrapped)).toBeUndefined();
    const altered = Buffer.from(wrapped);
    altered[39] = altered[39]! ^ 1;
    expect(aesKeyUnwrap(kek, altered)).toBeUndefined();
    expect(aesKeyUnwrap(kek, wrapped.subarray(0, 39))).toBeUndefined();
  });

  it('accepts every point of P-256 and no point with a changed coordinate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.nat({ max: 63 }), (delta, at) => {
        const { x, y } = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
        const point = Buffer.concat([Buffer.from([4]), b64u(x!), b64u(y!)]);
        expect(p256Point(b64u(x!), b64u(y!))).toEqual(point);
        const changed = Buffer.from(point.subarray(1));
        changed[at] = changed[at]! ^ delta;
        expect(p256Point(changed.subarray(0, 32), changed.subarray(32))).toBeUndefined();
      }),
      { numRuns: 50 },
    );
    expect(p256Point(Buffer.alloc(32), Buffer.alloc(32))).toBeUndefined();
    expect(p256Point(Buffer.alloc(31), Buffer.alloc(32))).toBeUndefined();
  });

  it('agrees on Z with a fresh ephemeral key, from either side', () => {
    const recipient = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { z, x, y } = agreeEphemeral(recipient.publicKey);
    expect(z).toHaveLength(32);
    expect(agreeStatic(recipient.privateKey, p256Point(x, y)!)).toEqual(z);
    expect(agreeEphemeral(recipient.publicKey).z).not.toEqual(z);
    expect(() => agreeEphemeral(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)).toThrow(TypeError);
  });
});
