// Confidential payloads: a delivery's payload encrypted to the receiving agency's
// certificate key (EC P-256) as a JWE (RFC 7516): ECDH-ES+A256KW key management and A256GCM
// content encryption; decryption accepts nothing else. The delivery id sits in the protected header, which the
// AEAD authenticates, so a ciphertext cannot be replayed under another delivery.
import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { canonicalBytes } from '../canonicalJson.ts';
import { fail, ok, type Result } from '../result.ts';

export const deliveryIdHeader = 'elfe-delivery-id';
const keyManagement = 'ECDH-ES+A256KW';
const contentEncryption = 'A256GCM';

export class ConfidentialityError extends Error {
  override readonly name = 'ConfidentialityError';
  constructor(
    readonly code: 'decryption-failed' | 'wrong-delivery' | 'malformed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Encrypts the canonical bytes of `payload` to the recipient's public key. */
export async function encryptPayload(payload: unknown, recipientPublicKey: KeyObject, deliveryId: string): Promise<string> {
  if (recipientPublicKey.asymmetricKeyType !== 'ec' || recipientPublicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('the recipient key is not an EC P-256 key');
  }
  return new CompactEncrypt(canonicalBytes(payload))
    .setProtectedHeader({ alg: keyManagement, enc: contentEncryption, cty: 'application/json', [deliveryIdHeader]: deliveryId })
    .encrypt(recipientPublicKey);
}

/** Decrypts a payload for `deliveryId`; refuses other deliveries' and altered ciphertexts. */
export async function decryptPayload(jwe: string, privateKey: KeyObject, deliveryId: string): Promise<Result<unknown, ConfidentialityError>> {
  let result;
  try {
    result = await compactDecrypt(jwe, privateKey, { keyManagementAlgorithms: [keyManagement], contentEncryptionAlgorithms: [contentEncryption] });
  } catch (error) {
    return fail(new ConfidentialityError('decryption-failed', 'the payload cannot be decrypted with this key, or was altered', { cause: error }));
  }
  if (result.protectedHeader[deliveryIdHeader] !== deliveryId) {
    return fail(new ConfidentialityError('wrong-delivery', 'the ciphertext belongs to another delivery'));
  }
  try {
    return ok(JSON.parse(new TextDecoder().decode(result.plaintext)));
  } catch (error) {
    return fail(new ConfidentialityError('malformed', 'the plaintext is not JSON', { cause: error }));
  }
}
