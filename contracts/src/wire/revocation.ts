// The exchange's revocation list: an X.509 v2 CRL signed by the CA. Parsed and checked
// synchronously (the verifier asks for revoked serials on the hot path); reloaded only when
// its file changes, and a bad new list never replaces the last good one.
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { fail, ok, type Result } from '../result.ts';
import { normalizeSerial, readDerInteger, signedParts, x509 } from './x509.ts';

export class CrlError extends Error {
  override readonly name = 'CrlError';
  constructor(
    /** `bad-crl`: malformed, or not issued and signed by the CA. `crl-unavailable`: cannot be read. */
    readonly code: 'bad-crl' | 'crl-unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RevocationEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  /** RFC 5280 reason code, when the CRL names one. */
  readonly reason: number | undefined;
}

export interface RevocationList {
  readonly serials: ReadonlySet<string>;
  readonly entries: readonly RevocationEntry[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: number | undefined;
}

const crlNumberOid = '2.5.29.20';
const ecdsaWithSha256 = (alg: x509.HashedAlgorithm) => {
  const a = alg as unknown as { name?: string; hash?: { name?: string } };
  return a.name === 'ECDSA' && a.hash?.name === 'SHA-256';
};

/** Parses a CRL (PEM or DER) and accepts it only if the CA issued and signed it. */
export function parseCrl(crlData: string | Uint8Array, caCertificatePem: string): Result<RevocationList, CrlError> {
  let crl: x509.X509Crl;
  let ca: x509.X509Certificate;
  let caKey: X509Certificate['publicKey'];
  try {
    crl = new x509.X509Crl(typeof crlData === 'string' ? crlData : Uint8Array.from(crlData));
    ca = new x509.X509Certificate(caCertificatePem);
    caKey = new X509Certificate(caCertificatePem).publicKey;
  } catch (error) {
    return fail(new CrlError('bad-crl', 'the CRL (or the CA certificate) cannot be read', { cause: error }));
  }
  if (!Buffer.from(crl.issuerName.toArrayBuffer()).equals(Buffer.from(ca.subjectName.toArrayBuffer()))) {
    return fail(new CrlError('bad-crl', `the CRL was issued by ${crl.issuer}, not by the CA ${ca.subject}`));
  }
  if (!ecdsaWithSha256(crl.signatureAlgorithm)) return fail(new CrlError('bad-crl', 'the CRL is not signed with ECDSA SHA-256'));
  let valid = false;
  try {
    const { tbs, signature } = signedParts(new Uint8Array(crl.rawData));
    valid = cryptoVerify('sha256', tbs, { key: caKey, dsaEncoding: 'der' }, signature);
  } catch (error) {
    return fail(new CrlError('bad-crl', 'the CRL signature cannot be checked', { cause: error }));
  }
  if (!valid) return fail(new CrlError('bad-crl', 'the CRL is not signed by the CA'));
  // RFC 5280 requires nextUpdate; without it @peculiar/x509 (2.2) reads no entries at all, so
  // such a list would revoke nothing. Fail closed.
  if (!crl.nextUpdate) return fail(new CrlError('bad-crl', 'the CRL has no nextUpdate'));
  let entries: RevocationEntry[];
  let crlNumber: number | undefined;
  try {
    entries = crl.entries.map((e) => ({ serial: normalizeSerial(e.serialNumber), revokedAt: e.revocationDate, reason: e.reason }));
    const number = crl.getExtension(crlNumberOid);
    crlNumber = number ? readDerInteger(new Uint8Array(number.value)) : undefined;
  } catch (error) {
    return fail(new CrlError('bad-crl', 'the CRL entries cannot be read', { cause: error }));
  }
  return ok({ serials: new Set(entries.map((e) => e.serial)), entries, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, crlNumber });
}

/** Revoked serials now; `lastError` says why the newest file was not taken (if it was not). */
export interface CrlSource {
  (): ReadonlySet<string>;
  readonly lastError: CrlError | undefined;
  /** The list in force (the last good one). */
  readonly current: RevocationList;
}

/** Where a CRL comes from: a cheap change stamp (mtime, size, inode) and the bytes. */
export interface CrlFile {
  stamp(): string;
  read(): string | Uint8Array;
}

/**
 * Serves the revoked serials of a CRL, re-reading it only when its stamp changes. The first
 * list must be good (a typed CrlError otherwise); a later bad one is reported through
 * `onError` and `lastError`, and the last good list stays in force.
 */
export function crlReloader(file: CrlFile, caCertificatePem: string, options: { onError?: (error: CrlError) => void } = {}): CrlSource {
  const load = (): RevocationList => {
    let data: string | Uint8Array;
    try {
      data = file.read();
    } catch (error) {
      throw new CrlError('crl-unavailable', 'the CRL cannot be read', { cause: error });
    }
    const parsed = parseCrl(data, caCertificatePem);
    if (!parsed.success) throw parsed.error;
    return parsed.data;
  };
  let stamp = file.stamp();
  let current = load();
  let lastError: CrlError | undefined;
  const source = (): ReadonlySet<string> => {
    let now: string;
    try {
      now = file.stamp();
    } catch (error) {
      now = `unavailable:${String(error)}`;
    }
    if (now === stamp) return current.serials;
    stamp = now;
    try {
      current = load();
      lastError = undefined;
    } catch (error) {
      lastError = error instanceof CrlError ? error : new CrlError('bad-crl', 'the CRL cannot be read', { cause: error });
      options.onError?.(lastError);
    }
    return current.serials;
  };
  return Object.defineProperties(source, {
    lastError: { get: () => lastError },
    current: { get: () => current },
  }) as CrlSource;
}
