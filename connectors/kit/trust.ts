// The trust port: everything a party needs to speak and to check others, chosen once in
// the composition root. One factory: certificates of the exchange's CA (ES256 signatures,
// JWE to certificate keys, TLS with the party's own certificate, the CA's revocation list
// reloaded without restart). Hub, connectors, command line and demo all take a `Trust`.
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { certificateSigner, certificateVerifier, type Signer, type SignerIdentity, type Verifier } from '../../contracts/index.ts';
import { crlSource, loadCredentials } from './credentials.ts';

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
  /** Serial numbers revoked right now, from the CA's CRL (re-read when the file changes). */
  readonly revoked: () => ReadonlySet<string>;
  readonly tls: TlsFiles;
}

export interface CertificateTrustOptions {
  /** The party's directory with `key.pem` and `cert.pem`. */
  readonly dir: string;
  readonly caCertFile: string;
  readonly crlFile: string;
  readonly now?: () => Date;
}

/** The trust of a party holding a certificate of the exchange's CA. */
export function certificateTrust(options: CertificateTrustOptions): Trust {
  const own = loadCredentials(options.dir);
  const caCertificatePem = readFileSync(options.caCertFile, 'utf8');
  const revoked = crlSource(options.crlFile, caCertificatePem);
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
      ...(options.now ? { now: options.now } : {}),
    }),
    decryptionKey: own.privateKey,
    caCertificatePem,
    revoked,
    tls: { caFile: options.caCertFile, certFile: own.certFile, keyFile: own.keyFile },
  };
}
