// Confidential payloads: a delivery's payload encrypted to the receiving agency's
// certificate key (EC P-256) as a compact JWE (RFC 7516): ECDH-ES+A256KW key management
// (RFC 7518 §4.6, in ecdhEs.ts) and A256GCM content encryption; decryption accepts nothing
// else. The delivery id sits in the protected header, which the AEAD authenticates, so a
// ciphertext cannot be replayed under another delivery. node:crypto does the work directly
// and synchronously: jose's WebCrypto path (generateKey, deriveBits) costs several times more.
import { createCipheriv, createDecipheriv, KeyObject, randomBytes } from 'node:crypto';
import { canonicalBytes } from '../canonicalJson.ts';
import { CodedError, fail, ok, type Result } from '../result.ts';
import { aesKeyUnwrap, aesKeyWrap, agreeEphemeral, agreeStatic, concatKdf, isP256, p256Point } from './ecdhEs.ts';

export const deliveryIdHeader = 'elfe-delivery-id';
const keyManagement = 'ECDH-ES+A256KW';
const contentEncryption = 'A256GCM';
const bytes = { cek: 32, iv: 12, tag: 16, encryptedKey: 40 } as const;

/**
 * `decryption-failed`: not a JWE of this exchange's kind, not for this key, or altered (until
 * the tag is checked nothing in it can be trusted, so these are one case); `wrong-delivery`:
 * authentic, but for another delivery; `malformed`: authentic, but the plaintext is not JSON.
 */
export class ConfidentialityError extends CodedError<'decryption-failed' | 'wrong-delivery' | 'malformed'> {
  override readonly name = 'ConfidentialityError';
}

type Step<T> = Result<T, ConfidentialityError>;
const refuse = (message: string, cause?: unknown) => fail(new ConfidentialityError('decryption-failed', message, cause === undefined ? {} : { cause }));

const utf8 = new TextDecoder('utf-8', { fatal: true });
const b64u = (data: Uint8Array): string => Buffer.from(data).toString('base64url');
/** base64url without padding, in its one canonical spelling: every character of a JWE counts. */
function fromB64u(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url');
  return b64u(decoded) === text ? decoded : undefined;
}
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Encrypts the canonical bytes of `payload` to the recipient's public key. */
export async function encryptPayload(payload: unknown, recipientPublicKey: KeyObject, deliveryId: string): Promise<string> {
  if (!isP256(recipientPublicKey)) throw new TypeError('the recipient key is not an EC P-256 key');
  const plaintext = canonicalBytes(payload);
  const { z, x, y } = agreeEphemeral(recipientPublicKey);
  const cek = randomBytes(bytes.cek);
  const iv = randomBytes(bytes.iv);
  const header = { alg: keyManagement, enc: contentEncryption, cty: 'application/json', [deliveryIdHeader]: deliveryId, epk: { kty: 'EC', crv: 'P-256', x: b64u(x), y: b64u(y) } };
  const encodedHeader = b64u(Buffer.from(JSON.stringify(header)));
  const encryptedKey = aesKeyWrap(concatKdf(z, { algorithmId: keyManagement, keyDataBits: 256 }), cek);
  const gcm = createCipheriv('aes-256-gcm', cek, iv);
  gcm.setAAD(Buffer.from(encodedHeader, 'ascii'));
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  return [encodedHeader, b64u(encryptedKey), b64u(iv), b64u(ciphertext), b64u(gcm.getAuthTag())].join('.');
}

interface CompactJwe {
  readonly encodedHeader: string;
  readonly header: Record<string, unknown>;
  readonly encryptedKey: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** Five canonical base64url segments, a JSON object for a header, and the lengths A256KW and A256GCM give. */
function parseCompact(jwe: unknown): Step<CompactJwe> {
  if (typeof jwe !== 'string') return refuse('the JWE is not a string');
  const segments = jwe.split('.');
  if (segments.length !== 5) return refuse('a compact JWE has five segments');
  const decoded = segments.map(fromB64u);
  const [headerBytes, encryptedKey, iv, ciphertext, tag] = decoded;
  if (!headerBytes || !encryptedKey || !iv || !ciphertext || !tag) return refuse('a segment is not base64url');
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(headerBytes));
  } catch (error) {
    return refuse('the protected header is not JSON', error);
  }
  if (!isObject(header)) return refuse('the protected header is not a JSON object');
  if (encryptedKey.length !== bytes.encryptedKey || iv.length !== bytes.iv || tag.length !== bytes.tag) {
    return refuse(`the encrypted key, iv and tag must have ${bytes.encryptedKey}, ${bytes.iv} and ${bytes.tag} bytes`);
  }
  return ok({ encodedHeader: segments[0]!, header, encryptedKey, iv, ciphertext, tag });
}

/** The algorithms, the ephemeral key (a point of P-256) and the party information the header names. */
function readHeader(header: Record<string, unknown>): Step<{ point: Buffer; apu?: Buffer; apv?: Buffer }> {
  if (header.alg !== keyManagement || header.enc !== contentEncryption) return refuse(`only ${keyManagement} with ${contentEncryption} is accepted`);
  // Nothing here understands a critical extension or decompresses (RFC 7516 §4.1.13, §4.1.3).
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'zip')) return refuse('critical extensions and compression are not accepted');
  const epk = header.epk;
  if (!isObject(epk) || epk.kty !== 'EC' || epk.crv !== 'P-256') return refuse('the ephemeral key is not an EC P-256 key');
  const x = fromB64u(epk.x);
  const y = fromB64u(epk.y);
  const point = x && y ? p256Point(x, y) : undefined;
  if (!point) return refuse('the ephemeral key is not a point of P-256');
  const apu = header.apu === undefined ? undefined : fromB64u(header.apu);
  const apv = header.apv === undefined ? undefined : fromB64u(header.apv);
  if ((header.apu !== undefined && !apu) || (header.apv !== undefined && !apv)) return refuse('apu and apv must be base64url');
  return ok({ point, ...(apu ? { apu } : {}), ...(apv ? { apv } : {}) });
}

/** The authenticated header and plaintext of a JWE for `privateKey`. */
function openJwe(jwe: unknown, privateKey: KeyObject): Step<{ header: Record<string, unknown>; plaintext: Buffer }> {
  if (!(privateKey instanceof KeyObject) || privateKey.type !== 'private' || !isP256(privateKey)) return refuse('the key is not an EC P-256 private key');
  const parsed = parseCompact(jwe);
  if (!parsed.success) return parsed;
  const { encodedHeader, header, encryptedKey, iv, ciphertext, tag } = parsed.data;
  const agreement = readHeader(header);
  if (!agreement.success) return agreement;
  const { point, apu, apv } = agreement.data;
  let z: Buffer;
  try {
    z = agreeStatic(privateKey, point);
  } catch (error) {
    return refuse('no key agreement with the ephemeral key', error);
  }
  const kek = concatKdf(z, { algorithmId: keyManagement, keyDataBits: 256, ...(apu ? { apu } : {}), ...(apv ? { apv } : {}) });
  const cek = aesKeyUnwrap(kek, encryptedKey);
  if (cek?.length !== bytes.cek) return refuse('the content key does not unwrap with this key: encrypted to another key, or altered');
  try {
    const gcm = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: bytes.tag });
    gcm.setAAD(Buffer.from(encodedHeader, 'ascii'));
    gcm.setAuthTag(tag);
    return ok({ header, plaintext: Buffer.concat([gcm.update(ciphertext), gcm.final()]) });
  } catch (error) {
    return refuse('the header, iv, ciphertext or tag was altered', error);
  }
}

/** Decrypts a payload for `deliveryId`; refuses other deliveries' and altered ciphertexts. */
export async function decryptPayload(jwe: string, privateKey: KeyObject, deliveryId: string): Promise<Result<unknown, ConfidentialityError>> {
  const opened = openJwe(jwe, privateKey);
  if (!opened.success) return opened;
  if (opened.data.header[deliveryIdHeader] !== deliveryId) {
    return fail(new ConfidentialityError('wrong-delivery', 'the ciphertext belongs to another delivery'));
  }
  try {
    return ok(JSON.parse(utf8.decode(opened.data.plaintext)));
  } catch (error) {
    return fail(new ConfidentialityError('malformed', 'the plaintext is not JSON', { cause: error }));
  }
}

/**
 * A correction's reason (the Standesamt's free text, which may name persons) for the same
 * recipient and delivery as the payload: a JWE like the payload's, whose plaintext is
 * `{"reason": …}`, so that neither can pass for the other.
 */
export async function encryptReason(reason: string, recipientPublicKey: KeyObject, deliveryId: string): Promise<string> {
  return encryptPayload({ reason }, recipientPublicKey, deliveryId);
}

/** The reason of a correction for `deliveryId`; refuses other deliveries', altered and payload ciphertexts. */
export async function decryptReason(jwe: string, privateKey: KeyObject, deliveryId: string): Promise<Result<string, ConfidentialityError>> {
  const opened = await decryptPayload(jwe, privateKey, deliveryId);
  if (!opened.success) return opened;
  const value = opened.data;
  if (!isObject(value) || Object.keys(value).length !== 1 || typeof value.reason !== 'string') {
    return fail(new ConfidentialityError('malformed', 'the plaintext is not a correction\'s reason'));
  }
  return ok(value.reason);
}
