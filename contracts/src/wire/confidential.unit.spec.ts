// Confidential payloads against oracles of their own: JWEs assembled in this file with
// node:crypto (authentic in every respect but the one under test, so a refusal cannot come
// from a broken tag instead), and jose's implementation in both directions.
import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../canonicalJson.ts';
import { ConfidentialityError, decryptPayload, decryptReason, deliveryIdHeader, encryptPayload, encryptReason } from './confidential.ts';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const refused = { success: false, error: { code: 'decryption-failed' } };
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

interface HandMade {
  /** Members merged over the header this exchange sends. */
  readonly header?: Record<string, unknown>;
  /** An ephemeral key of the test's choosing, with the secret a decryptor that used it would compute. */
  readonly epk?: { readonly jwk: Record<string, unknown>; readonly z: Uint8Array };
  readonly plaintext?: Uint8Array;
}

/** A compact JWE made step by step after RFC 7516 and RFC 7518 §4.6, independently of confidential.ts. */
function handMade(recipient: KeyObject, options: HandMade = {}): string {
  let epk = options.epk;
  if (!epk) {
    const ephemeral = p256();
    const { kty, crv, x, y } = ephemeral.publicKey.export({ format: 'jwk' });
    epk = { jwk: { kty, crv, x, y }, z: diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }) };
  }
  const header = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json', [deliveryIdHeader]: 'd-1', epk: epk.jwk, ...options.header };
  const algorithmId = Buffer.from('ECDH-ES+A256KW');
  const kek = createHash('sha256')
    .update(Buffer.concat([u32(1), epk.z, u32(algorithmId.length), algorithmId, u32(0), u32(0), u32(256)]))
    .digest();
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const wrap = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
  const protectedHeader = b64u(Buffer.from(JSON.stringify(header)));
  const gcm = createCipheriv('aes-256-gcm', cek, iv);
  gcm.setAAD(Buffer.from(protectedHeader, 'ascii'));
  const ciphertext = Buffer.concat([gcm.update(options.plaintext ?? canonicalBytes({ a: 1 })), gcm.final()]);
  return [protectedHeader, b64u(encryptedKey), b64u(iv), b64u(ciphertext), b64u(gcm.getAuthTag())].join('.');
}

/** The JWE with the bytes of one segment changed (and encoded again, canonically). */
function alter(jwe: string, segment: number, change: (bytes: Buffer) => Buffer | void): string {
  const parts = jwe.split('.');
  const bytes = Buffer.from(parts[segment]!, 'base64url');
  parts[segment] = b64u(change(bytes) ?? bytes);
  return parts.join('.');
}
const flipFirstBit = (bytes: Buffer) => {
  bytes[0] = bytes[0]! ^ 1;
};
const alterHeader = (jwe: string, change: (header: Record<string, unknown>) => Record<string, unknown>) =>
  alter(jwe, 0, (bytes) => Buffer.from(JSON.stringify(change(JSON.parse(bytes.toString())))));

// P-256 (SEC 2 / FIPS 186-4): y² = x³ − 3x + b over the prime field p.
const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const modPow = (base: bigint, exponent: bigint): bigint => {
  let result = 1n;
  for (let x = base % p, e = exponent; e > 0n; e >>= 1n, x = (x * x) % p) if (e & 1n) result = (result * x) % p;
  return result;
};
const bytes32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');

describe('confidential payloads (JWE, ECDH-ES+A256KW, A256GCM)', () => {
  it('round-trips for the recipient and refuses another key and another delivery', async () => {
    const agency = p256();
    const jwe = await encryptPayload({ name: 'Zoë' }, agency.publicKey, 'd-1');
    expect(await decryptPayload(jwe, agency.privateKey, 'd-1')).toEqual({ success: true, data: { name: 'Zoë' } });
    expect(await decryptPayload(jwe, p256().privateKey, 'd-1')).toMatchObject(refused);
    expect(await decryptPayload(jwe, agency.privateKey, 'd-2')).toMatchObject({ success: false, error: { code: 'wrong-delivery' } });
  });

  it('encrypts only to P-256 keys and decrypts only ECDH-ES+A256KW with A256GCM', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(encryptPayload({}, rsa.publicKey, 'd-1')).rejects.toThrow(TypeError);
    await expect(encryptPayload({}, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, 'd-1')).rejects.toThrow(TypeError);
    const agency = p256();
    const direct = await new CompactEncrypt(canonicalBytes({ a: 1 }))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', [deliveryIdHeader]: 'd-1' })
      .encrypt(agency.publicKey);
    expect(await decryptPayload(direct, agency.privateKey, 'd-1')).toMatchObject(refused);
    const cbc = await new CompactEncrypt(canonicalBytes({ a: 1 }))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256CBC-HS512', [deliveryIdHeader]: 'd-1' })
      .encrypt(agency.publicKey);
    expect(await decryptPayload(cbc, agency.privateKey, 'd-1')).toMatchObject(refused);
  });

  it('opens a JWE made by hand after the RFCs (the control for the refusals below)', async () => {
    const agency = p256();
    expect(await decryptPayload(handMade(agency.publicKey), agency.privateKey, 'd-1')).toEqual({ success: true, data: { a: 1 } });
    expect(await decryptPayload(handMade(agency.publicKey, { plaintext: Buffer.from('not json') }), agency.privateKey, 'd-1')).toMatchObject({
      success: false,
      error: { code: 'malformed' },
    });
  });

  it('refuses an altered header, encrypted key, iv, ciphertext or tag', async () => {
    const agency = p256();
    const jwe = await encryptPayload({ name: 'Zoë' }, agency.publicKey, 'd-1');
    const readdressed = alterHeader(jwe, (header) => ({ ...header, [deliveryIdHeader]: 'd-2' }));
    expect(await decryptPayload(readdressed, agency.privateKey, 'd-2')).toMatchObject(refused);
    expect(await decryptPayload(alterHeader(jwe, (header) => ({ ...header, kid: 'x' })), agency.privateKey, 'd-1')).toMatchObject(refused);
    for (const segment of [1, 2, 3, 4]) {
      const result = await decryptPayload(alter(jwe, segment, flipFirstBit), agency.privateKey, 'd-1');
      expect(result, `segment ${segment}`).toMatchObject(refused);
      expect(result.success || result.error).toBeInstanceOf(ConfidentialityError);
    }
    expect(await decryptPayload(alter(jwe, 4, (tag) => tag.subarray(0, 12)), agency.privateKey, 'd-1')).toMatchObject(refused);
    expect(await decryptPayload(alter(jwe, 2, (iv) => Buffer.concat([iv, iv]).subarray(0, 16)), agency.privateKey, 'd-1')).toMatchObject(refused);
  });

  it('refuses other algorithms, critical and compression headers even when the JWE is otherwise authentic', async () => {
    const agency = p256();
    for (const header of [{ alg: 'ECDH-ES+A128KW' }, { alg: 'ECDH-ES' }, { alg: 'dir' }, { alg: 'RSA-OAEP-256' }, { alg: 'none' }, { enc: 'A128GCM' }, { enc: 'A256CBC-HS512' }, { alg: undefined }, { enc: 7 }]) {
      expect(await decryptPayload(handMade(agency.publicKey, { header }), agency.privateKey, 'd-1'), JSON.stringify(header)).toMatchObject(refused);
    }
    expect(await decryptPayload(handMade(agency.publicKey, { header: { crit: [deliveryIdHeader] } }), agency.privateKey, 'd-1')).toMatchObject(refused);
    expect(await decryptPayload(handMade(agency.publicKey, { header: { zip: 'DEF' } }), agency.privateKey, 'd-1')).toMatchObject(refused);
  });

  it('refuses an ephemeral key off P-256 (invalid-curve attack) that a careless decryptor would use', async () => {
    // Keys whose scalar is odd: a decryptor that skipped the point check would multiply (1, 0),
    // a point of order 2 on the curve y² = x³ − 3x + (b − 2) it never checked, to (1, 0) itself,
    // open this JWE, and so tell the sender one bit of the key. Repeated with other small-order
    // points, that recovers the whole key.
    let agency = p256();
    while ((Buffer.from(agency.privateKey.export({ format: 'jwk' }).d!, 'base64url').at(-1)! & 1) === 0) agency = p256();
    const orderTwo = { jwk: { kty: 'EC', crv: 'P-256', x: b64u(bytes32(1n)), y: b64u(bytes32(0n)) }, z: bytes32(1n) };
    expect(await decryptPayload(handMade(agency.publicKey, { epk: orderTwo }), agency.privateKey, 'd-1')).toMatchObject(refused);

    // A point on the curve written with x + p: a decryptor that reduced it mod p would accept it.
    let x = 1n;
    while (modPow((x ** 3n - 3n * x + b) % p, (p - 1n) / 2n) !== 1n) x++;
    const y = modPow((x ** 3n - 3n * x + b) % p, (p + 1n) / 4n);
    const onCurve = { kty: 'EC', crv: 'P-256', x: b64u(bytes32(x)), y: b64u(bytes32(y)) };
    const z = diffieHellman({ privateKey: agency.privateKey, publicKey: createPublicKey({ key: onCurve, format: 'jwk' }) });
    expect(await decryptPayload(handMade(agency.publicKey, { epk: { jwk: onCurve, z } }), agency.privateKey, 'd-1')).toEqual({ success: true, data: { a: 1 } });
    const unreduced = { jwk: { ...onCurve, x: b64u(bytes32(x + p)) }, z };
    expect(await decryptPayload(handMade(agency.publicKey, { epk: unreduced }), agency.privateKey, 'd-1')).toMatchObject(refused);

    // A point of another curve, however labelled; and keys that are no EC point at all.
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const p384Jwk = p384.publicKey.export({ format: 'jwk' });
    const p384Z = diffieHellman({ privateKey: p384.privateKey, publicKey: p384.publicKey });
    for (const jwk of [{ ...p384Jwk }, { ...p384Jwk, crv: 'P-256' }, { ...onCurve, crv: 'P-384' }, { ...onCurve, kty: 'OKP' }, { ...onCurve, y: undefined }, { ...onCurve, x: '+/==' }, {}]) {
      expect(await decryptPayload(handMade(agency.publicKey, { epk: { jwk, z: p384Z } }), agency.privateKey, 'd-1'), JSON.stringify(jwk)).toMatchObject(refused);
    }
    expect(await decryptPayload(handMade(agency.publicKey, { header: { epk: undefined } }), agency.privateKey, 'd-1')).toMatchObject(refused);
    expect(await decryptPayload(handMade(agency.publicKey, { header: { epk: 'P-256' } }), agency.privateKey, 'd-1')).toMatchObject(refused);
  });

  it('answers malformed compact strings and unusable keys with a typed refusal, never an exception', async () => {
    const agency = p256();
    const jwe = await encryptPayload({ a: 1 }, agency.publicKey, 'd-1');
    const [header, encryptedKey, iv, ciphertext, tag] = jwe.split('.') as [string, string, string, string, string];
    const malformed: unknown[] = [
      '',
      '....',
      'a.b.c',
      `${jwe}.`,
      [header, encryptedKey, iv, ciphertext].join('.'),
      [header, '', iv, ciphertext, tag].join('.'),
      [header, encryptedKey, '', ciphertext, tag].join('.'),
      [header, encryptedKey, iv, ciphertext, ''].join('.'),
      [header, `${encryptedKey}=`, iv, ciphertext, tag].join('.'),
      // The same bytes spelt otherwise: the tag's last character differs only in bits base64url leaves unused.
      [header, encryptedKey, iv, ciphertext, tag.slice(0, -1) + alphabet[alphabet.indexOf(tag.at(-1)!) ^ 1]].join('.'),
      [header, `+${encryptedKey.slice(1)}`, iv, ciphertext, tag].join('.'),
      [b64u(Buffer.from('not json')), encryptedKey, iv, ciphertext, tag].join('.'),
      [b64u(Buffer.from('[]')), encryptedKey, iv, ciphertext, tag].join('.'),
      [b64u(Buffer.from('null')), encryptedKey, iv, ciphertext, tag].join('.'),
      [b64u(Buffer.from('"ECDH-ES+A256KW"')), encryptedKey, iv, ciphertext, tag].join('.'),
      `${'x'.repeat(3)}.${jwe}`,
      undefined,
      42,
      { jwe },
    ];
    for (const input of malformed) {
      expect(await decryptPayload(input as string, agency.privateKey, 'd-1'), String(input)).toMatchObject(refused);
    }
    for (const key of [generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, generateKeyPairSync('ed25519').privateKey, agency.publicKey]) {
      expect(await decryptPayload(jwe, key, 'd-1')).toMatchObject(refused);
    }
  });

  it('never throws on arbitrary input, and refuses every JWE with one character changed', async () => {
    const agency = p256();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (input) => {
        const result = await decryptPayload(input, agency.privateKey, 'd-1');
        expect(result.success).toBe(false);
      }),
      { numRuns: 200 },
    );
    const jwe = await encryptPayload({ a: 1 }, agency.publicKey, 'd-1');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jwe.length - 1 }), fc.constantFrom(...alphabet), async (at, c) => {
        fc.pre(jwe[at] !== '.' && jwe[at] !== c);
        const changed = jwe.slice(0, at) + c + jwe.slice(at + 1);
        expect(await decryptPayload(changed, agency.privateKey, 'd-1')).toMatchObject({ success: false });
      }),
      { numRuns: 300 },
    );
  });

  it('interoperates with jose: jose opens what we make, we open what jose makes', async () => {
    const agency = p256();
    const jwe = await encryptPayload({ name: 'Zoë', n: [1, 2] }, agency.publicKey, 'd-1');
    const opened = await compactDecrypt(jwe, agency.privateKey, { keyManagementAlgorithms: ['ECDH-ES+A256KW'], contentEncryptionAlgorithms: ['A256GCM'] });
    expect(JSON.parse(new TextDecoder().decode(opened.plaintext))).toEqual({ name: 'Zoë', n: [1, 2] });
    expect(opened.protectedHeader).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json', [deliveryIdHeader]: 'd-1', epk: { kty: 'EC', crv: 'P-256' } });

    const header = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json', [deliveryIdHeader]: 'd-1' };
    const fromJose = await new CompactEncrypt(canonicalBytes({ name: 'Zoë' })).setProtectedHeader(header).encrypt(agency.publicKey);
    expect(await decryptPayload(fromJose, agency.privateKey, 'd-1')).toEqual({ success: true, data: { name: 'Zoë' } });
    // Agreement party information (apu, apv) enters the key derivation when a sender sets it.
    const withParties = await new CompactEncrypt(canonicalBytes({ name: 'Zoë' }))
      .setProtectedHeader(header)
      .setKeyManagementParameters({ apu: Buffer.from('Standesamt'), apv: Buffer.from('Elterngeldstelle') })
      .encrypt(agency.publicKey);
    expect(JSON.parse(Buffer.from(withParties.split('.')[0]!, 'base64url').toString())).toMatchObject({ apu: b64u(Buffer.from('Standesamt')) });
    expect(await decryptPayload(withParties, agency.privateKey, 'd-1')).toEqual({ success: true, data: { name: 'Zoë' } });
    expect(await decryptPayload(withParties, agency.privateKey, 'd-2')).toMatchObject({ success: false, error: { code: 'wrong-delivery' } });
  });
});

describe('a correction\'s reason', () => {
  it('opens for the recipient and its delivery only, and a payload cannot pass for it', async () => {
    const agency = p256();
    const reason = 'Berichtigung (§ 47 PStG): Vorname Zoë';
    const jwe = await encryptReason(reason, agency.publicKey, 'd-1');
    expect(jwe).not.toContain(Buffer.from('Zoë').toString('base64url'));
    expect(await decryptReason(jwe, agency.privateKey, 'd-1')).toEqual({ success: true, data: reason });
    expect(await decryptReason(jwe, agency.privateKey, 'd-2')).toMatchObject({ success: false, error: { code: 'wrong-delivery' } });
    expect(await decryptReason(jwe, p256().privateKey, 'd-1')).toMatchObject(refused);
    const payload = await encryptPayload({ child: { firstNames: ['Zoë'] } }, agency.publicKey, 'd-1');
    expect(await decryptReason(payload, agency.privateKey, 'd-1')).toMatchObject({ success: false, error: { code: 'malformed' } });
  });
});
