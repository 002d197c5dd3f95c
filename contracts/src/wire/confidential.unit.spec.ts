import { generateKeyPairSync } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../canonicalJson.ts';
import { decryptPayload, deliveryIdHeader, encryptPayload } from './confidential.ts';

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('confidential payloads (JWE, ECDH-ES+A256KW, A256GCM)', () => {
  it('round-trips for the recipient and refuses another key and another delivery', async () => {
    const agency = p256();
    const jwe = await encryptPayload({ name: 'Zoë' }, agency.publicKey, 'd-1');
    expect(await decryptPayload(jwe, agency.privateKey, 'd-1')).toEqual({ success: true, data: { name: 'Zoë' } });
    expect(await decryptPayload(jwe, p256().privateKey, 'd-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
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
    expect(await decryptPayload(direct, agency.privateKey, 'd-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
    const cbc = await new CompactEncrypt(canonicalBytes({ a: 1 }))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256CBC-HS512', [deliveryIdHeader]: 'd-1' })
      .encrypt(agency.publicKey);
    expect(await decryptPayload(cbc, agency.privateKey, 'd-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
  });
});
