// The trust port: everything a party needs to speak and to check others, chosen once in
// the composition root. One factory: certificates of the exchange's CA (ES256 signatures,
// JWE to certificate keys, TLS with the party's own certificate, the CA's revocation list
// reloaded without restart). Hub, connectors, command line and demo all take a `Trust`.
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { certificateSigner, certificateVerifier, type CrlReloaderOptions, type CrlSource, type Signer, type SignerIdentity, type Verifier } from '../../contracts/index.ts';
import { watchCaFiles, type CaFiles } from './caFiles.ts';
import { crlNumberFile, crlNumberFileOf, loadCredentials } from './credentials.ts';
import { createLogger, type Logger } from './logger.ts';

/** TLS options for a NATS connection as this party. */
export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Trust {
  /** Who this party is, as its certificate says. */
  readonly identity: SignerIdentity;
  /** Signs as this party. */
  readonly signer: Signer;
  /** Checks another party's signature: chain to the CA, validity, revocation, role and DVDV. */
  readonly verifier: Verifier;
  /** This party's private key, for payloads encrypted to its certificate. */
  readonly decryptionKey: KeyObject;
  /** The exchange CA's certificate (PEM). */
  readonly caCertificatePem: string;
  /**
   * Serial numbers revoked right now, from the CA's CRL (re-read when the file changes; an
   * older or stale list is refused and the last good one kept; `unusable` once none is good).
   */
  readonly revoked: CrlSource;
  /** The CA's published files (its CRL; its issued certificates and holders when `issuedDir` was given). */
  readonly caFiles: CaFiles;
  readonly tls: TlsFiles;
}

export interface CertificateTrustOptions {
  /** The party's directory with `key.pem` and `cert.pem`. */
  readonly dir: string;
  readonly caCertFile: string;
  readonly crlFile: string;
  /** The CA's `issued/` (the hub: its nats-server users and recipients' keys); a connector needs only the CRL. */
  readonly issuedDir?: string;
  /** How long after its nextUpdate a CRL still counts (default 24 h); logged loudly as it runs out. */
  readonly crlGraceMs?: number;
  /** Where CRL refusals (error), the running grace (warn) and an unusable list (error) are logged; default a `trust` logger on stderr. */
  readonly logger?: Logger;
  /** Also told of every refused CRL and of the list in force running out (the hub counts them for its alert metric). */
  readonly onCrlAlert?: (code: string) => void;
  readonly now?: () => Date;
}

export const defaultCrlGraceMs = 24 * 3600_000;

/** CRL checks as a party runs them: the highest number seen kept in its own directory, every refusal logged at error level. */
export function crlChecks(options: Pick<CertificateTrustOptions, 'dir' | 'crlGraceMs' | 'logger' | 'onCrlAlert' | 'now'>): CrlReloaderOptions {
  let logger = options.logger;
  const log = () => (logger ??= createLogger('trust'));
  return {
    numbers: crlNumberFile(crlNumberFileOf(options.dir)),
    graceMs: options.crlGraceMs ?? defaultCrlGraceMs,
    ...(options.now ? { now: options.now } : {}),
    onError: (error) => {
      log().error({ event: 'trust.crl-refused', code: error.code, reason: error.message }, 'a new CRL was refused; the last good CRL stays in force');
      options.onCrlAlert?.(error.code);
    },
    onGrace: ({ crlNumber, nextUpdate, graceEndsAt, msLeft }) =>
      log().warn(
        { event: 'trust.crl-grace', crlNumber, nextUpdate: nextUpdate.toISOString(), graceEndsAt: graceEndsAt.toISOString(), minutesLeft: Math.floor(msLeft / 60_000) },
        `the CRL in force is past its nextUpdate: certificates will no longer be trusted from ${graceEndsAt.toISOString()} unless the CA publishes a new CRL`,
      ),
    onUnusable: (error) => {
      log().error({ event: 'trust.crl-unusable', code: error.code, reason: error.message }, 'no current CRL: no certificate is trusted until the CA publishes a new one');
      options.onCrlAlert?.(error.code);
    },
  };
}

/** The trust of a party holding a certificate of the exchange's CA. */
export function certificateTrust(options: CertificateTrustOptions): Trust {
  const own = loadCredentials(options.dir);
  const caCertificatePem = readFileSync(options.caCertFile, 'utf8');
  let logger = options.logger;
  const caFiles = watchCaFiles({
    caCertificatePem,
    crlFile: options.crlFile,
    ...(options.issuedDir ? { issuedDir: options.issuedDir } : {}),
    crl: crlChecks(options),
    log: (level, fields, message) => (logger ??= createLogger('trust'))[level](fields, message),
    ...(options.now ? { now: options.now } : {}),
  });
  const revoked = caFiles.revoked;
  const signer = certificateSigner(own.privateKey, own.certificatePem);
  return {
    identity: signer.identity,
    signer,
    verifier: certificateVerifier({
      caCertificatePem,
      revokedSerials: revoked,
      revokedSince: (serial) => {
        revoked();
        return revoked.current.entries.find((e) => e.serial === serial)?.revokedAt;
      },
      // Asked right after revokedSerials (the same look at the CRL file).
      revocationUnknown: () => revoked.unusableAsLastSeen?.message,
      ...(options.now ? { now: options.now } : {}),
    }),
    decryptionKey: own.privateKey,
    caCertificatePem,
    revoked,
    caFiles,
    tls: { caFile: options.caCertFile, certFile: own.certFile, keyFile: own.keyFile },
  };
}
