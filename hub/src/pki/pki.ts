// The exchange's PKI: a CA, certificates for agencies (role and DVDV address as SAN URIs),
// a CA-signed revocation list, and expiry reporting. node-forge issues and parses;
// node:crypto generates keys and does everything on the hot path. Keys are RSA-3072
// (node-forge cannot put EC or Ed25519 keys into certificates); signatures are RSA-PSS,
// payload encryption RSA-OAEP-256, as in the federal submission infrastructure FIT-Connect.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { z } from 'zod';
import { canonicalBytes, RoleSchema, type Role } from '../../../contracts/index.ts';

export const sanRole = (role: Role) => `urn:elfe:role:${role}`;
export const sanDvdv = (dvdv: string) => `urn:elfe:dvdv:${dvdv}`;
/** The NATS user name of a party: an e-mail SAN under the reserved `.invalid` domain. */
export const natsUserOf = (dvdv: string) => `${dvdv.replace(':', '.')}@elfe-hub.invalid`;

export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code: 'no-ca' | 'ca-exists' | 'unknown-serial' | 'invalid-input' | 'bad-revocation-list',
    message: string,
  ) {
    super(message);
  }
}

const files = (dir: string) => ({
  caKey: path.join(dir, 'ca.key.pem'),
  caCert: path.join(dir, 'ca.cert.pem'),
  revocations: path.join(dir, 'revocations.json'),
  issued: path.join(dir, 'issued'),
});

function rsaKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** A subject attribute as UTF8String (by default forge writes Latin-1 bytes for `ö`, which TLS peers refuse). */
const utf8Attribute = (name: string, value: string) => ({ name, value, valueTagClass: forge.asn1.Type.UTF8 as number });

const serial = () => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10; // positive, and no leading zero that encodings would drop
  return bytes.toString('hex').toUpperCase();
};

export interface IssuedCertificate {
  readonly serial: string;
  readonly certificatePem: string;
  readonly keyFile: string;
  readonly certFile: string;
}

/** Creates the exchange's CA (self-signed, CA:true, keyCertSign and cRLSign). */
export function pkiInit(dir: string, options: { name?: string; validDays?: number; now?: Date } = {}): IssuedCertificate {
  const f = files(dir);
  if (existsSync(f.caKey)) throw new PkiError('ca-exists', `a CA already exists in ${dir}`);
  mkdirSync(f.issued, { recursive: true, mode: 0o700 });
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  const now = options.now ?? new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + (options.validDays ?? 3650) * 86_400_000);
  const subject = [{ name: 'commonName', value: options.name ?? 'elfe-hub exchange CA' }, { name: 'organizationName', value: 'elfe-hub' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  writeSecret(f.caKey, keys.privatePem);
  writeFileSync(f.caCert, pem);
  writeRevocations(dir, []);
  return { serial: cert.serialNumber.toUpperCase(), certificatePem: pem, keyFile: f.caKey, certFile: f.caCert };
}

export interface IssueOptions {
  readonly role: Role;
  readonly dvdv: string;
  readonly name: string;
  readonly validDays?: number;
  readonly now?: Date;
  /** DNS names / IP addresses for a server certificate (the hub's NATS endpoint). */
  readonly serverNames?: readonly string[];
}

/** A key pair and a certificate for an agency (or the hub), signed by the CA. */
export function issueCertificate(dir: string, options: IssueOptions): IssuedCertificate {
  const f = files(dir);
  if (!existsSync(f.caKey)) throw new PkiError('no-ca', `no CA in ${dir}: run elfe pki init`);
  if (!RoleSchema.safeParse(options.role).success) throw new PkiError('invalid-input', `unknown role ${options.role}`);
  if (!/^[a-z]{2,5}:[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/.test(options.dvdv)) throw new PkiError('invalid-input', `not a DVDV address: ${options.dvdv}`);
  // Round-trip the CA through PEM before using it, as forge expects.
  const caCert = forge.pki.certificateFromPem(readFileSync(f.caCert, 'utf8'));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(f.caKey, 'utf8'));
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  const now = options.now ?? new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + (options.validDays ?? 365) * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: options.dvdv }, utf8Attribute('organizationName', options.name), { name: 'organizationalUnitName', value: options.role }]);
  cert.setIssuer(caCert.subject.attributes);
  const agency = options.role === 'elterngeldstelle' || options.role === 'familienkasse';
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: agency, critical: true },
    { name: 'extKeyUsage', clientAuth: true, serverAuth: options.role === 'hub' },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 6, value: sanRole(options.role) },
        { type: 6, value: sanDvdv(options.dvdv) },
        // The NATS user the certificate maps to (verify_and_map takes the first e-mail SAN).
        { type: 1, value: natsUserOf(options.dvdv) },
        ...(options.serverNames ?? []).map((n) => (/^[\d.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  const base = path.join(f.issued, `${cert.serialNumber.toUpperCase()}`);
  writeSecret(`${base}.key.pem`, keys.privatePem);
  writeFileSync(`${base}.cert.pem`, pem);
  return { serial: cert.serialNumber.toUpperCase(), certificatePem: pem, keyFile: `${base}.key.pem`, certFile: `${base}.cert.pem` };
}

const RevocationListSchema = z
  .object({
    list: z.object({ issuer: z.string(), updatedAt: z.string(), revoked: z.array(z.object({ serial: z.string(), revokedAt: z.string() }).strict()) }).strict(),
    /** RSA-PSS signature of the CA over the canonical bytes of `list`. */
    signature: z.string(),
  })
  .strict();

/** The revocation list: CA-signed JSON (node-forge cannot write X.509 CRLs). */
function writeRevocations(dir: string, revoked: { serial: string; revokedAt: string }[]): void {
  const f = files(dir);
  const caCert = new X509Certificate(readFileSync(f.caCert));
  const list = { issuer: caCert.subject, updatedAt: new Date().toISOString(), revoked };
  const signature = sign('sha256', canonicalBytes(list), { key: createPrivateKey(readFileSync(f.caKey)), padding: 6, saltLength: 32 }).toString('base64');
  writeFileSync(f.revocations, `${JSON.stringify({ list, signature }, null, 2)}\n`);
}

/** Revoked serials, after checking the CA's signature on the list. */
export function readRevocations(dir: string): Set<string> {
  const f = files(dir);
  const parsed = RevocationListSchema.safeParse(JSON.parse(readFileSync(f.revocations, 'utf8')));
  if (!parsed.success) throw new PkiError('bad-revocation-list', 'the revocation list is malformed');
  const ca = new X509Certificate(readFileSync(f.caCert));
  const ok = verify('sha256', canonicalBytes(parsed.data.list), { key: ca.publicKey, padding: 6, saltLength: 32 }, Buffer.from(parsed.data.signature, 'base64'));
  if (!ok) throw new PkiError('bad-revocation-list', 'the revocation list is not signed by the CA');
  return new Set(parsed.data.list.revoked.map((r) => r.serial.toUpperCase()));
}

export function revoke(dir: string, serialNumber: string): void {
  const f = files(dir);
  const wanted = serialNumber.toUpperCase();
  if (!existsSync(path.join(f.issued, `${wanted}.cert.pem`))) throw new PkiError('unknown-serial', `no certificate with serial ${serialNumber} was issued here`);
  const current = RevocationListSchema.parse(JSON.parse(readFileSync(f.revocations, 'utf8'))).list.revoked;
  if (current.some((r) => r.serial === wanted)) return;
  writeRevocations(dir, [...current, { serial: wanted, revokedAt: new Date().toISOString() }]);
}

/** Reloads the revocation list when its file changes (no restart needed). */
export function revocationSource(dir: string): () => ReadonlySet<string> {
  let stamp = '';
  let revoked: ReadonlySet<string> = new Set();
  return () => {
    const text = readFileSync(files(dir).revocations, 'utf8');
    if (text !== stamp) {
      revoked = readRevocations(dir);
      stamp = text;
    }
    return revoked;
  };
}

export interface CertificateStatus {
  readonly serial: string;
  readonly subject: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly revoked: boolean;
  readonly expiresSoon: boolean;
}

/** Every issued certificate with its expiry; `expiresSoon` within `warnDays`. */
export function pkiStatus(dir: string, options: { warnDays?: number; now?: Date } = {}): CertificateStatus[] {
  const f = files(dir);
  if (!existsSync(f.caCert)) throw new PkiError('no-ca', `no CA in ${dir}`);
  const revoked = readRevocations(dir);
  const now = (options.now ?? new Date()).getTime();
  return readdirSync(f.issued)
    .filter((n) => n.endsWith('.cert.pem'))
    .map((n) => {
      const cert = new X509Certificate(readFileSync(path.join(f.issued, n)));
      const daysLeft = Math.floor((Date.parse(cert.validTo) - now) / 86_400_000);
      return { serial: cert.serialNumber.toUpperCase(), subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(cert.validTo).toISOString(), daysLeft, revoked: revoked.has(cert.serialNumber.toUpperCase()), expiresSoon: daysLeft <= (options.warnDays ?? 30) };
    });
}

export const caCertificate = (dir: string): string => readFileSync(files(dir).caCert, 'utf8');
