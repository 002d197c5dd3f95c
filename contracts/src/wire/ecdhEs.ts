// ECDH-ES key agreement for JWE (RFC 7518 §4.6) on P-256, done with node:crypto's ECDH
// directly: the check that a peer's point lies on the curve (an ephemeral key off it would
// let a sender learn the recipient's private key bit by bit, the invalid-curve attack), the
// Concat KDF (NIST SP 800-56A §5.8.1) as §4.6.2 applies it, and AES Key Wrap (RFC 3394).
import { createCipheriv, createDecipheriv, createECDH, createHash, type ECDH, type KeyObject } from 'node:crypto';

// P-256 (FIPS 186-4 D.1.2.3): y² = x³ − 3x + b over GF(p); cofactor 1, so every point on the
// curve is in the group the keys live in.
const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
export const p256CoordinateBytes = 32;
const curveName = 'prime256v1';

export const isP256 = (key: KeyObject): boolean => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === curveName;

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

/** The uncompressed point (0x04 ‖ x ‖ y) if x and y (32 bytes each, below p) satisfy the curve equation; otherwise undefined. */
export function p256Point(x: Uint8Array, y: Uint8Array): Buffer | undefined {
  if (x.length !== p256CoordinateBytes || y.length !== p256CoordinateBytes) return undefined;
  const xn = toBigInt(x);
  const yn = toBigInt(y);
  // Coordinates are field elements: x + p names the same point only to a careless reader.
  if (xn >= p || yn >= p) return undefined;
  if ((yn * yn - (xn * xn * xn - 3n * xn + b)) % p !== 0n) return undefined;
  return Buffer.concat([Buffer.from([0x04]), x, y]);
}

/** Recipients' public points, checked once per key object (a KeyObject is immutable). */
const recipientPoints = new WeakMap<KeyObject, Buffer>();

const recipientPoint = (recipient: KeyObject): Buffer => {
  const known = recipientPoints.get(recipient);
  if (known) return known;
  const jwk = recipient.export({ format: 'jwk' });
  const point = p256Point(Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url'));
  if (!point) throw new TypeError('the recipient key is not a point of P-256');
  recipientPoints.set(recipient, point);
  return point;
};

/** A fresh ephemeral key agreed with the recipient's P-256 public key: the shared secret Z and the ephemeral public coordinates. */
export function agreeEphemeral(recipient: KeyObject): { readonly z: Buffer; readonly x: Buffer; readonly y: Buffer } {
  const point = recipientPoint(recipient);
  const ephemeral = createECDH(curveName);
  const ephemeralPoint = ephemeral.generateKeys();
  const z = ephemeral.computeSecret(point);
  return { z, x: ephemeralPoint.subarray(1, 1 + p256CoordinateBytes), y: ephemeralPoint.subarray(1 + p256CoordinateBytes) };
}

/** A private key's ECDH form, made once per key object (computeSecret leaves it unchanged). */
const staticAgreements = new WeakMap<KeyObject, ECDH>();

/** Z of the recipient's P-256 private key and a point checked by `p256Point`. */
export function agreeStatic(privateKey: KeyObject, point: Buffer): Buffer {
  let ecdh = staticAgreements.get(privateKey);
  if (!ecdh) {
    ecdh = createECDH(curveName);
    ecdh.setPrivateKey(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
    staticAgreements.set(privateKey, ecdh);
  }
  return ecdh.computeSecret(point);
}

export interface KdfParameters {
  /** The `alg` of key agreement with key wrapping (the `enc` for direct key agreement). */
  readonly algorithmId: string;
  readonly keyDataBits: number;
  /** Agreement PartyUInfo and PartyVInfo (`apu`, `apv`), empty unless the sender set them. */
  readonly apu?: Uint8Array;
  readonly apv?: Uint8Array;
}

const uint32 = (n: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
};
const lengthPrefixed = (bytes: Uint8Array): Buffer => Buffer.concat([uint32(bytes.length), bytes]);

/** The Concat KDF with SHA-256 over Z and OtherInfo (AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo). */
export function concatKdf(z: Uint8Array, parameters: KdfParameters): Buffer {
  const { algorithmId, keyDataBits, apu = new Uint8Array(), apv = new Uint8Array() } = parameters;
  if (!Number.isSafeInteger(keyDataBits) || keyDataBits <= 0 || keyDataBits % 8 !== 0) throw new RangeError('the key length must be a positive number of bytes');
  const otherInfo = Buffer.concat([lengthPrefixed(Buffer.from(algorithmId, 'ascii')), lengthPrefixed(apu), lengthPrefixed(apv), uint32(keyDataBits)]);
  const rounds: Buffer[] = [];
  for (let counter = 1; counter <= Math.ceil(keyDataBits / 256); counter++) {
    rounds.push(createHash('sha256').update(uint32(counter)).update(z).update(otherInfo).digest());
  }
  return Buffer.concat(rounds).subarray(0, keyDataBits / 8);
}

// RFC 3394 §2.2.3.1: the default initial value, checked again on unwrapping.
const keyWrapIv = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/** AES-256 Key Wrap (RFC 3394) of `key` under the 32-byte `kek`. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', kek, keyWrapIv);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

/** The key wrapped under `kek`, or undefined when the integrity check fails (another key, or altered). */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Buffer | undefined {
  try {
    const decipher = createDecipheriv('id-aes256-wrap', kek, keyWrapIv);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    return undefined;
  }
}
