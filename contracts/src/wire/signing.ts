import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalBytes } from '../canonicalJson.ts';
import { RoleSchema, type Role } from '../envelope.ts';
import { CodedError, fail, ok, type Result } from '../result.ts';

/** Who signed: what a verifier vouches for after checking a signature. */
export interface SignerIdentity {
  readonly keyId: string;
  readonly dvdv: string;
  readonly role: Role;
  readonly name: string;
}

/** Detached signature over the RFC 8785 canonical bytes of a value. */
export const DetachedSignatureSchema = z
  .object({
    alg: z.enum(['Ed25519', 'ES256']),
    keyId: z.string().min(1).max(100),
    /** base64 signature value. */
    value: z.string().min(1).max(1024),
    /** PEM certificate of the signer, when the signer holds one. */
    certificate: z.string().max(20_000).optional(),
  })
  .strict();
export type DetachedSignature = z.infer<typeof DetachedSignatureSchema>;

/** A value with its detached signature, as it travels on the wire. */
export const signedSchema = <T extends z.ZodType>(payload: T) =>
  z.object({ payload, signature: DetachedSignatureSchema }).strict();
export interface Signed<T> {
  readonly payload: T;
  readonly signature: DetachedSignature;
}

/**
 * Signs canonical bytes. The plain key-pair signer and the certificate-based one
 * implement the same interface, so callers do not change when certificates arrive.
 */
export interface Signer {
  readonly identity: SignerIdentity;
  sign(value: unknown): DetachedSignature;
}

export type VerificationErrorCode =
  | 'signature-malformed'
  | 'unknown-signer'
  | 'signature-invalid'
  | 'certificate-invalid'
  | 'certificate-revoked'
  | 'certificate-expired'
  /** No good CRL is in force (stale beyond its grace): no certificate is trusted until one is. */
  | 'revocation-unknown';

export class VerificationError extends CodedError<VerificationErrorCode> {
  override readonly name = 'VerificationError';
}

/** Checks a detached signature and says who made it. */
export interface Verifier {
  verify(value: unknown, signature: DetachedSignature, at?: Date): Result<SignerIdentity, VerificationError>;
}

/** Key id of an Ed25519 public key: the first 16 bytes of SHA-256 over its SPKI DER, base64url. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest().subarray(0, 16).toString('base64url');
}

/** A signer over a plain Ed25519 key pair. */
export function ed25519Signer(privateKey: KeyObject, identity: Omit<SignerIdentity, 'keyId'>): Signer {
  const keyId = keyIdOf(createPublicKey(privateKey));
  return {
    identity: { ...identity, keyId },
    sign: (value) => ({
      alg: 'Ed25519',
      keyId,
      value: cryptoSign(null, canonicalBytes(value), privateKey).toString('base64'),
    }),
  };
}

/** A public key the verifier trusts, with the identity it stands for. */
export interface TrustedKey {
  readonly identity: SignerIdentity;
  readonly publicKey: KeyObject;
}

export const TrustedKeyFileSchema = z
  .object({
    dvdv: z.string().min(1),
    role: RoleSchema,
    name: z.string().min(1),
    publicKeyPem: z.string().min(1),
  })
  .strict();

/** A verifier over a fixed set of trusted Ed25519 keys (the local key directory). */
export function keySetVerifier(keys: readonly TrustedKey[]): Verifier {
  const byId = new Map(keys.map((k) => [k.identity.keyId, k]));
  return {
    verify(value, signature) {
      const parsed = DetachedSignatureSchema.safeParse(signature);
      if (!parsed.success) return fail(new VerificationError('signature-malformed', 'signature is not well-formed'));
      const key = byId.get(parsed.data.keyId);
      if (!key) return fail(new VerificationError('unknown-signer', `no trusted key with id ${parsed.data.keyId}`));
      let valid = false;
      try {
        valid = cryptoVerify(null, canonicalBytes(value), key.publicKey, Buffer.from(parsed.data.value, 'base64'));
      } catch (error) {
        return fail(new VerificationError('signature-invalid', 'signature could not be checked', { cause: error }));
      }
      return valid ? ok(key.identity) : fail(new VerificationError('signature-invalid', 'signature does not match'));
    },
  };
}
