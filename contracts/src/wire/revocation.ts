// The exchange's revocation list: an X.509 v2 CRL signed by the CA. Parsed and checked
// synchronously (the verifier asks for revoked serials on the hot path); reloaded only when
// its file changes, and a bad new list never replaces the last good one. Fails closed: a list
// is taken only if its CRL number is not lower than the highest one seen (kept durably by the
// caller) and its nextUpdate (plus a grace) has not passed; once the list in force is past its
// grace, no list is good and `unusable` says so (the verifier then trusts no certificate).
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { CodedError, fail, ok, type Result } from '../result.ts';
import { normalizeSerial, readDerInteger, signedParts, x509 } from './x509.ts';

/**
 * `bad-crl`: malformed, or not issued and signed by the CA. `crl-unavailable`: cannot be read.
 * `crl-rollback`: its CRL number is lower than one already seen (an older list copied back).
 * `crl-stale`: its nextUpdate, and the grace after it, have passed.
 */
export class CrlError extends CodedError<'bad-crl' | 'crl-unavailable' | 'crl-rollback' | 'crl-stale'> {
  override readonly name = 'CrlError';
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
  /**
   * Why no good list is in force right now (the last good one is past its nextUpdate and the
   * grace), or undefined while it is good. Nothing revocable may be trusted while it is set.
   */
  readonly unusable: CrlError | undefined;
  /** The same as of the last look (the last call or `unusable`), without looking again: for a check made right after one. */
  readonly unusableAsLastSeen: CrlError | undefined;
}

/** Where a CRL comes from: a cheap change stamp (mtime, size, inode) and the bytes. */
export interface CrlFile {
  stamp(): string;
  read(): string | Uint8Array;
}

/** The highest CRL number this party has taken, kept durably (so a restart does not forget it). */
export interface CrlNumberStore {
  read(): number | undefined;
  write(crlNumber: number): void;
}

export interface CrlReloaderOptions {
  /** A newer file was refused (rolled back, stale, not the CA's, unreadable); the last good list stays. */
  readonly onError?: (error: CrlError) => void;
  /** The list in force is past its nextUpdate and within the grace: said at most once a minute. */
  readonly onGrace?: (info: { readonly crlNumber: number | undefined; readonly nextUpdate: Date; readonly graceEndsAt: Date; readonly msLeft: number }) => void;
  /** The list in force ran out of grace (said once, when it happens): nothing revocable is trusted any more. */
  readonly onUnusable?: (error: CrlError) => void;
  /** Highest CRL number seen; without it only this process's memory guards against rollback. */
  readonly numbers?: CrlNumberStore;
  /** How long after nextUpdate a list still counts (default 0). */
  readonly graceMs?: number;
  readonly now?: () => Date;
}

const graceNoticeEveryMs = 60_000;

/**
 * Serves the revoked serials of a CRL, re-reading it only when its stamp changes. The first
 * list must be good (a typed CrlError otherwise); a later bad one (not the CA's, a lower CRL
 * number than seen, past nextUpdate plus grace) is reported through `onError` and `lastError`,
 * and the last good list stays in force until it runs out of grace itself (`unusable`).
 */
export function crlReloader(file: CrlFile, caCertificatePem: string, options: CrlReloaderOptions = {}): CrlSource {
  const now = options.now ?? (() => new Date());
  const graceMs = options.graceMs ?? 0;
  let highest = options.numbers?.read();
  const staleError = (list: RevocationList) =>
    new CrlError('crl-stale', `the CRL${list.crlNumber === undefined ? '' : ` number ${list.crlNumber}`} was due to be replaced at ${list.nextUpdate.toISOString()}${graceMs > 0 ? ` (grace ${Math.round(graceMs / 1000)} s)` : ''}; it is ${now().toISOString()}`);
  const load = (): RevocationList => {
    let data: string | Uint8Array;
    try {
      data = file.read();
    } catch (error) {
      throw new CrlError('crl-unavailable', 'the CRL cannot be read', { cause: error });
    }
    const parsed = parseCrl(data, caCertificatePem);
    if (!parsed.success) throw parsed.error;
    const list = parsed.data;
    if (highest !== undefined && (list.crlNumber === undefined || list.crlNumber < highest)) {
      throw new CrlError('crl-rollback', `the CRL number ${list.crlNumber ?? '(none)'} is lower than ${highest}, already seen: an older CRL is not taken back`);
    }
    if (now().getTime() > list.nextUpdate.getTime() + graceMs) throw staleError(list);
    if (list.crlNumber !== undefined && (highest === undefined || list.crlNumber > highest)) {
      options.numbers?.write(list.crlNumber);
      highest = list.crlNumber;
    }
    return list;
  };
  let stamp = file.stamp();
  let current = load();
  let lastError: CrlError | undefined;
  let graceSaidAt = -Infinity;
  let unusableSaid = false;
  let lastUnusable: CrlError | undefined;
  const unusable = (): CrlError | undefined => {
    const at = now().getTime();
    const due = current.nextUpdate.getTime();
    if (at <= due) {
      unusableSaid = false;
      return undefined;
    }
    if (at > due + graceMs) {
      const error = staleError(current);
      if (!unusableSaid) {
        unusableSaid = true;
        options.onUnusable?.(error);
      }
      return error;
    }
    if (at - graceSaidAt >= graceNoticeEveryMs) {
      graceSaidAt = at;
      options.onGrace?.({ crlNumber: current.crlNumber, nextUpdate: current.nextUpdate, graceEndsAt: new Date(due + graceMs), msLeft: due + graceMs - at });
    }
    return undefined;
  };
  const source = (): ReadonlySet<string> => {
    let fresh: string;
    try {
      fresh = file.stamp();
    } catch (error) {
      fresh = `unavailable:${String(error)}`;
    }
    if (fresh !== stamp) {
      stamp = fresh;
      try {
        current = load();
        lastError = undefined;
      } catch (error) {
        lastError = error instanceof CrlError ? error : new CrlError('bad-crl', 'the CRL cannot be read', { cause: error });
        options.onError?.(lastError);
      }
    }
    lastUnusable = unusable();
    return current.serials;
  };
  return Object.defineProperties(source, {
    lastError: { get: () => lastError },
    current: { get: () => current },
    unusable: {
      get: () => {
        source();
        return lastUnusable;
      },
    },
    unusableAsLastSeen: { get: () => lastUnusable },
  }) as CrlSource;
}
