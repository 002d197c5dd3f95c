// The files the exchange's CA publishes, read by one watcher with one parser: the certificates
// it issued (`issued/*.cert.pem`), its signed statement of holders (`issued/holders.json`) and
// its CRL. The hub's nats-server users, the recipients' keys, certificate expiry and every
// party's revocation checks all read its state. The CA replaces files by rename; a file that
// does not parse (garbage, or one rewritten in place and caught half-way) is logged at error
// level and counted once per version, and the last good state stays. The CRL is fail-closed as
// before: without a good first list the watcher does not start (a typed CrlError).
import { verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { canonicalBytes, CodedError, certificateFacts, crlReloader, fail, normalizeSerial, ok, type CertificateFacts, type CrlReloaderOptions, type CrlSource, type Result } from '../../contracts/index.ts';
import { createLogger } from './logger.ts';

/** A certificate the CA issued, as read from its file in `issued/`. */
export interface PublishedCertificate {
  /** The file's name in `issued/`. */
  readonly file: string;
  readonly pem: string;
  readonly cert: X509Certificate;
  /** Uppercase hex. */
  readonly serial: string;
  /** Role, DVDV address, NATS user; undefined for a TLS-server-only (or node) certificate. */
  readonly facts: CertificateFacts | undefined;
  readonly validFrom: number;
  readonly validTo: number;
}

export interface HoldersStatement {
  readonly type: 'elfe-holders/1';
  /** The issuance log's sequence number when it was made: a newer statement has a higher one. */
  readonly sequence: number;
  readonly issuedAt: string;
  /** DVDV address → serial of the certificate that holds it. */
  readonly holders: Readonly<Record<string, string>>;
}

export interface CaFilesState {
  /** Counts the changes seen; a subscriber is told each new one. */
  readonly version: number;
  /** Every certificate in `issued/` that the CA signed, by file name. */
  readonly certificates: readonly PublishedCertificate[];
  readonly holders: HoldersStatement | { readonly error: string };
  /** Serials revoked by the CRL in force. */
  readonly revoked: ReadonlySet<string>;
  /** Why no good CRL is in force (then nothing revocable may be trusted). */
  readonly revocationUnknown: string | undefined;
}

export interface CaFiles {
  /** The state now: the files are checked again (a stat each) before it is returned. */
  current(): CaFilesState;
  /** The CRL in force, checked as before (rollback, staleness, grace). */
  readonly revoked: CrlSource;
  /** Tells `listener` of each change, debounced; the files are watched while anyone listens. Returns the unsubscribe. */
  subscribe(listener: (state: CaFilesState) => void): () => void;
  readonly stats: { readonly badFiles: number; readonly changes: number };
  stop(): void;
}

export type CaFilesLog = (level: 'error' | 'warn', fields: Record<string, unknown>, message: string) => void;

export interface CaFilesOptions {
  readonly caCertificatePem: string;
  readonly crlFile: string;
  /** The CA's `issued/`; without it only the CRL is followed (a connector). */
  readonly issuedDir?: string;
  /** How the CRL is checked (numbers seen, grace, refusals reported). */
  readonly crl?: CrlReloaderOptions;
  /** Default: a `ca-files` logger on stderr. */
  readonly log?: CaFilesLog;
  /** A burst of file events within this many ms is read once (default 100). */
  readonly debounceMs?: number;
  /** Read again this often while subscribed, for missed events and certificates coming into or out of validity (default 2000). */
  readonly pollMs?: number;
  readonly now?: () => Date;
}

export class CaFileError extends CodedError<'not-a-certificate' | 'not-issued-by-ca' | 'bad-holders' | 'holders-rolled-back'> {
  override readonly name = 'CaFileError';
}

/** The one parser of a file in `issued/`: a PEM certificate signed by the CA. */
export function parseIssuedCertificate(file: string, bytes: string | Buffer, ca: X509Certificate): Result<PublishedCertificate, CaFileError> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(bytes);
  } catch (error) {
    return fail(new CaFileError('not-a-certificate', `${file} is not a certificate (${(error as Error).message})`, { cause: error }));
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return fail(new CaFileError('not-issued-by-ca', `${file} is not signed by the CA`));
  return ok({ file, pem: cert.toString(), cert, serial: normalizeSerial(cert.serialNumber), facts: certificateFacts(cert), validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) });
}

/** Every certificate in `issuedDir` the CA signed, and the files that are not (one parse each, no watching: the command line). */
export function readIssuedCertificates(issuedDir: string, caCertificatePem: string): { certificates: PublishedCertificate[]; bad: CaFileError[] } {
  const ca = new X509Certificate(caCertificatePem);
  const certificates: PublishedCertificate[] = [];
  const bad: CaFileError[] = [];
  for (const file of existsSync(issuedDir) ? readdirSync(issuedDir).filter((f) => f.endsWith('.cert.pem')).sort() : []) {
    const parsed = parseIssuedCertificate(file, readFileSync(path.join(issuedDir, file)), ca);
    if (parsed.success) certificates.push(parsed.data);
    else bad.push(parsed.error);
  }
  return { certificates, bad };
}

export const holdersFileOf = (issuedDir: string): string => path.join(issuedDir, 'holders.json');

/** Checks a CA signature over canonical bytes (ES256, IEEE P1363, base64). */
export const verifyCaSignature = (key: KeyObject, value: unknown, signature: string): boolean => {
  try {
    return cryptoVerify('sha256', canonicalBytes(value), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
};

/** The CA's statement of holders in `issuedDir`, if present and signed by the CA. */
export function readHolders(issuedDir: string, caCertificatePem: string | X509Certificate): HoldersStatement | { error: string } {
  const file = holdersFileOf(issuedDir);
  if (!existsSync(file)) return { error: 'the CA has published no statement of holders (issued/holders.json)' };
  try {
    const { statement, signature } = JSON.parse(readFileSync(file, 'utf8')) as { statement: HoldersStatement; signature: string };
    const ca = typeof caCertificatePem === 'string' ? new X509Certificate(caCertificatePem) : caCertificatePem;
    if (statement?.type !== 'elfe-holders/1' || typeof statement.holders !== 'object' || !Number.isSafeInteger(statement.sequence)) return { error: 'issued/holders.json is not a statement of holders' };
    if (typeof signature !== 'string' || !verifyCaSignature(ca.publicKey, statement, signature)) return { error: 'issued/holders.json is not signed by the CA' };
    return statement;
  } catch (error) {
    return { error: `issued/holders.json cannot be read: ${(error as Error).message}` };
  }
}

const stampOf = (file: string): string => {
  const s = statSync(file);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
};
const stampOrNone = (file: string): string => {
  try {
    return stampOf(file);
  } catch {
    return 'none';
  }
};

/**
 * Follows the CA's published files. Throws the CrlError of a first CRL that is not good
 * (fail-closed, as every party's trust always did).
 */
export function watchCaFiles(options: CaFilesOptions): CaFiles {
  const ca = new X509Certificate(options.caCertificatePem);
  const now = options.now ?? (() => new Date());
  let fallback: ReturnType<typeof createLogger> | undefined;
  const log: CaFilesLog = options.log ?? ((level, fields, message) => (fallback ??= createLogger('ca-files'))[level](fields, message));
  const stats = { badFiles: 0, changes: 0 };
  const bad = (file: string, code: string, reason: string, what: string) => {
    stats.badFiles++;
    log('error', { event: 'ca-files.bad-file', file, code, reason }, `${what}; the last good state stays`);
  };
  const crlName = path.basename(options.crlFile);
  const revoked = crlReloader({ stamp: () => stampOf(options.crlFile), read: () => readFileSync(options.crlFile) }, options.caCertificatePem, {
    ...options.crl,
    onError: (error) => {
      // Counted here; said by the caller's own checks when it has them (trust.crl-refused), else here.
      if (options.crl?.onError) {
        stats.badFiles++;
        options.crl.onError(error);
      } else bad(crlName, error.code, error.message, 'a CRL was refused');
    },
  });
  const issuedDir = options.issuedDir;
  const files = new Map<string, { stamp: string; good: PublishedCertificate | undefined }>();
  let holders: HoldersStatement | { error: string } = issuedDir ? { error: 'not read yet' } : { error: 'no issued directory is followed' };
  let holdersStamp = '';
  let listUnreadable: string | undefined;
  let state: CaFilesState | undefined;
  let shape = '';

  let dirStamp = '';
  const readIssued = (thorough: boolean): boolean => {
    if (!issuedDir) return false;
    // A look without a file event (a reader asking) lists the directory only when it changed:
    // the CA adds and replaces files by rename; what is written in place comes with an event.
    const stamp = stampOrNone(issuedDir);
    if (!thorough && stamp === dirStamp && stampOrNone(holdersFileOf(issuedDir)) === holdersStamp) return false;
    dirStamp = stamp;
    let names: string[];
    try {
      names = existsSync(issuedDir) ? readdirSync(issuedDir).filter((f) => f.endsWith('.cert.pem')) : [];
      listUnreadable = undefined;
    } catch (error) {
      const reason = (error as Error).message;
      if (listUnreadable !== reason) log('error', { event: 'ca-files.unreadable', dir: issuedDir, reason }, 'the issued certificates cannot be listed; the last good state stays');
      listUnreadable = reason;
      return false;
    }
    let changed = false;
    for (const gone of [...files.keys()].filter((f) => !names.includes(f))) {
      changed ||= files.get(gone)?.good !== undefined;
      files.delete(gone);
    }
    for (const file of names) {
      const full = path.join(issuedDir, file);
      let stamp: string;
      let bytes: Buffer;
      try {
        stamp = stampOf(full);
        if (files.get(file)?.stamp === stamp) continue;
        bytes = readFileSync(full);
      } catch {
        continue; // renamed away between listing and reading: the next read sees it
      }
      const parsed = parseIssuedCertificate(file, bytes, ca);
      const before = files.get(file)?.good;
      if (parsed.success) {
        files.set(file, { stamp, good: parsed.data });
        changed ||= before?.pem !== parsed.data.pem;
      } else {
        files.set(file, { stamp, good: before });
        bad(file, parsed.error.code, parsed.error.message, `${file} in the CA's issued certificates is not taken`);
      }
    }
    const holdersFile = holdersFileOf(issuedDir);
    const hs = stampOrNone(holdersFile);
    if (hs !== holdersStamp) {
      holdersStamp = hs;
      const read = readHolders(issuedDir, ca);
      if ('error' in read) {
        if ('sequence' in holders) bad('holders.json', 'bad-holders', read.error, 'the statement of holders is not taken');
        else holders = read;
      } else if ('sequence' in holders && read.sequence < holders.sequence) {
        bad('holders.json', 'holders-rolled-back', `sequence ${read.sequence} is older than ${holders.sequence}`, 'an older statement of holders is not taken');
      } else {
        changed ||= !('sequence' in holders) || read.sequence !== holders.sequence;
        holders = read;
      }
    }
    return changed;
  };

  // The good certificates, sorted, and which of them are valid now: made again only when a
  // certificate changed or the time passed one's validFrom or validTo, not on every look.
  let certificates: PublishedCertificate[] = [];
  let validNow = '';
  let validityChangesAt = Number.POSITIVE_INFINITY;
  let validityAt = 0;
  const validity = (at: number) => {
    validityAt = at;
    validNow = certificates.filter((c) => at >= c.validFrom && at <= c.validTo).map((c) => c.serial).join(',');
    validityChangesAt = Math.min(...certificates.map((c) => (at < c.validFrom ? c.validFrom : at <= c.validTo ? c.validTo + 1 : Number.POSITIVE_INFINITY)));
  };

  /** Reads what changed; true when the state is new. */
  const read = (thorough: boolean): boolean => {
    const issuedChanged = readIssued(thorough);
    const serials = revoked();
    const unknown = revoked.unusableAsLastSeen?.message;
    const at = now().getTime();
    if (issuedChanged || state === undefined) {
      certificates = [...files.values()].flatMap((f) => (f.good ? [f.good] : [])).sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
      validity(at);
    } else if (at >= validityChangesAt || at < validityAt) validity(at); // a clock set back (tests) is looked at again too
    // What subscribers act on: the list in force, whether it is usable, which certificates are valid now.
    const nextShape = `${revoked.current.crlNumber ?? '-'}:${revoked.current.thisUpdate.getTime()}:${unknown ?? ''}|${validNow}`;
    if (state && !issuedChanged && nextShape === shape) return false;
    shape = nextShape;
    const first = state === undefined;
    state = { version: (state?.version ?? 0) + 1, certificates, holders, revoked: serials, revocationUnknown: unknown };
    if (!first) stats.changes++;
    return !first;
  };
  read(true);

  const listeners = new Set<(state: CaFilesState) => void>();
  const tell = () => {
    for (const listener of [...listeners]) {
      try {
        listener(state!);
      } catch (error) {
        log('error', { event: 'ca-files.listener-failed', error: (error as Error).message }, 'a reader of the CA files failed on a change');
      }
    }
  };
  const check = (thorough = true) => {
    try {
      if (read(thorough)) tell();
    } catch (error) {
      log('error', { event: 'ca-files.read-failed', error: (error as Error).message }, 'the CA files could not be read; the last good state stays');
    }
  };
  const debounceMs = options.debounceMs ?? 100;
  let pending: NodeJS.Timeout | undefined;
  let burstStartedAt = 0;
  // Trailing debounce, at most ten debounce periods late under a steady stream of events.
  const soon = () => {
    const at = Date.now();
    if (pending) {
      if (at - burstStartedAt >= debounceMs * 10) return;
      clearTimeout(pending);
    } else burstStartedAt = at;
    pending = setTimeout(() => {
      pending = undefined;
      check();
    }, debounceMs);
    pending.unref();
  };
  let watchers: FSWatcher[] = [];
  let poll: NodeJS.Timeout | undefined;
  const start = () => {
    for (const dir of new Set([issuedDir, path.dirname(options.crlFile)].filter((d): d is string => d !== undefined))) {
      try {
        const w = watch(dir, { persistent: false }, soon);
        w.on('error', (error) => log('warn', { event: 'ca-files.watch-failed', dir, error: error.message }, 'file events stopped; changes are still read every poll'));
        watchers.push(w);
      } catch (error) {
        log('warn', { event: 'ca-files.watch-failed', dir, error: (error as Error).message }, 'no file events; changes are read every poll');
      }
    }
    poll = setInterval(check, options.pollMs ?? 2000);
    poll.unref();
  };
  const halt = () => {
    for (const w of watchers) w.close();
    watchers = [];
    if (poll) clearInterval(poll);
    if (pending) clearTimeout(pending);
    poll = pending = undefined;
  };

  return {
    current() {
      check(false);
      return state!;
    },
    revoked,
    subscribe(listener) {
      if (listeners.size === 0) start();
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) halt();
      };
    },
    stats,
    stop() {
      listeners.clear();
      halt();
    },
  };
}
