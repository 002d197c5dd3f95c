// A party's credentials: its EC P-256 key, generated here and never leaving this directory,
// a PKCS#10 request for the CA, the certificate the CA sent back, and the CA's revocation
// list, re-read when it changes. Layout of a credentials directory (0700):
//   key.pem (PKCS#8, 0600)   request.csr (PEM)   cert.pem (from `elfe pki sign`)
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { watchCaFiles } from './caFiles.ts';
import {
  DvdvAddressSchema,
  ecdsaP256,
  hostNamePattern,
  partyNamePattern,
  RoleSchema,
  sanDvdv,
  sanRole,
  x509,
  type CrlNumberStore,
  type CrlReloaderOptions,
  type CrlSource,
  type Role,
  CodedError,
} from '../../contracts/index.ts';

export class CredentialsError extends CodedError<'invalid-input' | 'exists' | 'missing' | 'key-exposed' | 'key-mismatch'> {
  override readonly name = 'CredentialsError';
}

export const credentialFiles = (dir: string) => ({
  keyFile: path.join(dir, 'key.pem'),
  requestFile: path.join(dir, 'request.csr'),
  certFile: path.join(dir, 'cert.pem'),
});

/** A party's identity as requested from the CA. */
export type RequestOptions =
  | { readonly role: Role; readonly dvdv: string; readonly name: string; readonly serverNames?: readonly string[]; readonly tlsServer?: false }
  /** The nats-server's own identity: TLS server only, never a signer of any role. */
  | { readonly tlsServer: true; readonly name: string; readonly serverNames: readonly string[] };


/** A DNS SAN or an IP SAN for a server name; undefined when it is neither. */
export function serverNameSan(name: string): { type: 'dns' | 'ip'; value: string } | undefined {
  if (isIP(name)) return { type: 'ip', value: name };
  if (hostNamePattern.test(name.toLowerCase())) return { type: 'dns', value: name.toLowerCase() };
  return undefined;
}

const pem = (der: ArrayBuffer, label: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/**
 * Generates the party's key pair in `dir` (key.pem, 0600 whatever the umask; the directory
 * 0700) and a certificate request (request.csr) naming CN=<dvdv>, O=<name>, OU=<role> and
 * the SAN URIs of role and DVDV address. The private key is never printed or returned.
 */
export async function createRequest(dir: string, options: RequestOptions): Promise<{ requestFile: string; keyFile: string; requestPem: string }> {
  const files = credentialFiles(dir);
  const sans: { type: 'url' | 'dns' | 'ip'; value: string }[] = [];
  let subject: x509.JsonNameParams;
  if (!partyNamePattern.test(options.name)) throw new CredentialsError('invalid-input', 'the name must be 1 to 200 characters without control characters');
  for (const n of options.serverNames ?? []) {
    const san = serverNameSan(n);
    if (!san) throw new CredentialsError('invalid-input', `not a host name or IP address: ${n}`);
    sans.push(san);
  }
  if (options.tlsServer) {
    if (sans.length === 0) throw new CredentialsError('invalid-input', 'a TLS server identity needs at least one server name');
    subject = [{ CN: [{ utf8String: options.serverNames[0]! }] }, { O: [{ utf8String: options.name }] }];
  } else {
    const role = RoleSchema.safeParse(options.role);
    if (!role.success) throw new CredentialsError('invalid-input', `unknown role ${String(options.role)}`);
    if (!DvdvAddressSchema.safeParse(options.dvdv).success) throw new CredentialsError('invalid-input', `not a DVDV address: ${options.dvdv}`);
    sans.unshift({ type: 'url', value: sanRole(role.data) }, { type: 'url', value: sanDvdv(options.dvdv) });
    subject = [{ CN: [{ utf8String: options.dvdv }] }, { O: [{ utf8String: options.name }] }, { OU: [{ utf8String: role.data }] }];
  }
  if (existsSync(files.keyFile)) throw new CredentialsError('exists', `${files.keyFile} exists: use a new directory for a new key`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name(subject),
    keys,
    signingAlgorithm: ecdsaP256,
    extensions: [new x509.SubjectAlternativeNameExtension(sans)],
  });
  // `wx`: never overwrite a key; the mode applies at creation, chmod makes it exact under any umask.
  writeFileSync(files.keyFile, pem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), { mode: 0o600, flag: 'wx' });
  chmodSync(files.keyFile, 0o600);
  const requestPem = `${request.toString('pem')}\n`;
  writeFileSync(files.requestFile, requestPem);
  return { requestFile: files.requestFile, keyFile: files.keyFile, requestPem };
}

export interface Credentials {
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The party's key and certificate; refuses a key readable by group or others, or one that does not match. */
export function loadCredentials(dir: string): Credentials {
  const { keyFile, certFile } = credentialFiles(dir);
  if (!existsSync(keyFile) || !existsSync(certFile)) throw new CredentialsError('missing', `${dir} holds no key.pem and cert.pem`);
  if ((statSync(keyFile).mode & 0o077) !== 0) throw new CredentialsError('key-exposed', `${keyFile}: private key is readable by group or others (chmod 600)`);
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const certificatePem = readFileSync(certFile, 'utf8');
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(privateKey)).equals(spki(new X509Certificate(certificatePem).publicKey))) {
    throw new CredentialsError('key-mismatch', `${certFile} does not certify the key in ${keyFile}`);
  }
  return { privateKey, certificatePem, certFile, keyFile };
}

/**
 * The highest CRL number a party has taken, in a small JSON file of its own directory
 * (`crl.seen.json`), replaced atomically: after a restart an older CRL is still refused.
 */
export function crlNumberFile(file: string): CrlNumberStore {
  return {
    read() {
      if (!existsSync(file)) return undefined;
      const n = (JSON.parse(readFileSync(file, 'utf8')) as { crlNumber?: unknown }).crlNumber;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new CredentialsError('invalid-input', `${file} holds no CRL number`);
      return n;
    },
    write(crlNumber) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ crlNumber, seenAt: new Date().toISOString() })}\n`, { mode: 0o600 });
      renameSync(tmp, file);
    },
  };
}

/** Where a party keeps the highest CRL number it has taken. */
export const crlNumberFileOf = (dir: string): string => path.join(dir, 'crl.seen.json');

/**
 * Revoked serials (uppercase hex) from the CA's CRL file, as the watcher of the CA's files reads
 * it (re-read when the file's inode, size or mtime change). Throws a CrlError when the first
 * list is not good (not the CA's, older than one seen, stale); later bad lists are reported
 * (`onError`, `lastError`) while the last good one stays in force (see crlReloader).
 */
export function crlSource(crlFile: string, caCertificatePem: string, options: CrlReloaderOptions = {}): CrlSource {
  return watchCaFiles({ caCertificatePem, crlFile, crl: options }).revoked;
}
