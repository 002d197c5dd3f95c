// The exchange's CA (run offline by the exchange operator): EC P-256, issues certificates only
// from PKCS#10 requests (the party keeps its key; the CA never sees one), and publishes an
// X.509 v2 CRL. Certificates name role and DVDV address as SAN URIs and carry one e-mail SAN,
// unique per certificate, that nats-server maps to a user. @peculiar/x509 does the X.509 work.
import { randomBytes, X509Certificate, type webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  altNames,
  crlReloader,
  derInteger,
  DvdvAddressSchema,
  dvdvUriPrefix,
  ecdsaP256,
  hostNamePattern,
  normalizeSerial,
  parseCrl,
  partyNamePattern,
  RoleSchema,
  roleUriPrefix,
  sanDvdv,
  sanRole,
  subjectField,
  x509,
  type CrlError,
  type CrlSource,
  type RevocationList,
  type Role,
} from '../../../contracts/index.ts';

/** The NATS user of one certificate: an e-mail SAN under the reserved `.invalid` domain, unique per certificate. */
export const natsUserOf = (serial: string, dvdv: string): string => `${normalizeSerial(serial).toLowerCase()}@${dvdv.replace(/:/g, '.')}.elfe-hub.invalid`;

export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code: 'no-ca' | 'ca-exists' | 'unknown-serial' | 'invalid-input' | 'bad-revocation-list' | 'bad-request' | 'bad-crl' | 'ca-key-exposed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const files = (dir: string) => ({
  caKey: path.join(dir, 'ca.key.pem'),
  caCert: path.join(dir, 'ca.cert.pem'),
  crl: path.join(dir, 'crl.pem'),
  issued: path.join(dir, 'issued'),
});

export const crlFileOf = (dir: string): string => files(dir).crl;
export const caCertFileOf = (dir: string): string => files(dir).caCert;

const pem = (der: ArrayBuffer, label: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

function writeAtomically(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** A random positive 128-bit serial, uppercase hex, without a leading zero byte. */
const newSerial = () => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex').toUpperCase();
};

const days = (n: number) => n * 86_400_000;

export interface IssuedCertificate {
  readonly serial: string;
  readonly certificatePem: string;
  readonly certFile: string;
}

/** Creates the exchange's CA: EC P-256, self-signed, CA:true, keyCertSign and cRLSign, and an empty CRL. */
export async function pkiInit(dir: string, options: { name?: string; validDays?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const f = files(dir);
  if (existsSync(f.caKey)) throw new PkiError('ca-exists', `a CA already exists in ${dir}`);
  mkdirSync(f.issued, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const now = options.now ?? new Date();
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const serial = newSerial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: new x509.Name([{ CN: [{ utf8String: options.name ?? 'elfe-hub exchange CA' }] }, { O: [{ utf8String: 'elfe-hub' }] }]),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days(options.validDays ?? 3650)),
    keys,
    signingAlgorithm: ecdsaP256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeAtomically(f.caKey, pem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), 0o600);
  const certificatePem = `${cert.toString('pem')}\n`;
  writeFileSync(f.caCert, certificatePem);
  await writeCrl(dir, [], { now, crlNumber: 1 });
  return { serial, certificatePem, certFile: f.caCert };
}

interface Ca {
  readonly cert: x509.X509Certificate;
  readonly key: webcrypto.CryptoKey;
  readonly keyId: string;
}

async function loadCa(dir: string): Promise<Ca> {
  const f = files(dir);
  if (!existsSync(f.caKey) || !existsSync(f.caCert)) throw new PkiError('no-ca', `no CA in ${dir}: run elfe pki init`);
  if ((statSync(f.caKey).mode & 0o077) !== 0) throw new PkiError('ca-key-exposed', `${f.caKey}: the CA key is readable by group or others (chmod 600)`);
  const cert = new x509.X509Certificate(readFileSync(f.caCert, 'utf8'));
  const der = Buffer.from(readFileSync(f.caKey, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new PkiError('no-ca', `the CA certificate in ${dir} has no subject key identifier`);
  return { cert, key, keyId: ski.keyId };
}

/** What the CA reads from a request, after checking it. */
interface RequestedIdentity {
  readonly kind: 'party' | 'tls-server';
  readonly role?: Role;
  readonly dvdv?: string;
  readonly name: string;
  readonly serverNames: readonly { type: 'dns' | 'ip'; value: string }[];
}


/** Reads and checks a request (attacker-controlled): proof of possession, P-256, role, DVDV address, names. */
async function readRequest(csrPem: string): Promise<{ csr: x509.Pkcs10CertificateRequest; identity: RequestedIdentity }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (error) {
    throw new PkiError('bad-request', 'the certificate request cannot be read', { cause: error });
  }
  const alg = csr.publicKey.algorithm as unknown as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' && alg.name !== 'ECDH') throw new PkiError('bad-request', `the request's key is ${alg.name ?? 'unknown'}, not EC P-256`);
  if (alg.namedCurve !== 'P-256') throw new PkiError('bad-request', `the request's key is on ${alg.namedCurve ?? 'an unknown curve'}, not P-256`);
  let signed = false;
  try {
    signed = await csr.verify();
  } catch (error) {
    throw new PkiError('bad-request', 'the request signature cannot be checked', { cause: error });
  }
  if (!signed) throw new PkiError('bad-request', 'the request is not signed by the key it names (no proof of possession)');
  const names = altNames(csr.extensions);
  if (names.emails.length > 0 || names.other > 0) throw new PkiError('bad-request', 'the request asks for e-mail or other names; the CA assigns those');
  const roles = names.uris.filter((u) => u.startsWith(roleUriPrefix)).map((u) => u.slice(roleUriPrefix.length));
  const dvdvs = names.uris.filter((u) => u.startsWith(dvdvUriPrefix)).map((u) => u.slice(dvdvUriPrefix.length));
  if (names.uris.length !== roles.length + dvdvs.length) throw new PkiError('bad-request', 'the request asks for URIs other than role and DVDV address');
  const serverNames = [...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))];
  for (const s of serverNames) {
    if (s.type === 'dns' ? !hostNamePattern.test(s.value) : !isIP(s.value)) throw new PkiError('bad-request', `not a host name or IP address: ${s.value}`);
  }
  const name = subjectField(csr.subjectName, 'O');
  if (!name || !partyNamePattern.test(name)) throw new PkiError('bad-request', 'the request names no organisation (O=) of 1 to 200 characters');
  if (roles.length === 0 && dvdvs.length === 0) {
    if (serverNames.length === 0) throw new PkiError('bad-request', 'a TLS server request needs at least one DNS or IP name');
    return { csr, identity: { kind: 'tls-server', name, serverNames } };
  }
  if (roles.length !== 1 || dvdvs.length !== 1) throw new PkiError('bad-request', 'the request must name exactly one role and one DVDV address');
  const role = RoleSchema.safeParse(roles[0]);
  if (!role.success) throw new PkiError('invalid-input', `unknown role ${roles[0]}`);
  const dvdv = DvdvAddressSchema.safeParse(dvdvs[0]);
  if (!dvdv.success) throw new PkiError('invalid-input', `not a DVDV address: ${dvdvs[0]}`);
  if (subjectField(csr.subjectName, 'CN') !== dvdv.data || subjectField(csr.subjectName, 'OU') !== role.data) {
    throw new PkiError('bad-request', 'the subject (CN=dvdv, OU=role) does not match the requested SANs');
  }
  return { csr, identity: { kind: 'party', role: role.data, dvdv: dvdv.data, name, serverNames } };
}

/**
 * Issues a certificate for a PKCS#10 request after checking its proof of possession, key
 * (EC P-256), role and DVDV address. Agencies get keyAgreement beside digitalSignature (JWE
 * with ECDH-ES); a TLS-server-only request gets no role and no NATS user.
 */
export async function signRequest(dir: string, csrPem: string, options: { days?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const ca = await loadCa(dir);
  const { csr, identity } = await readRequest(csrPem);
  const validDays = options.days ?? 365;
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > 3650) throw new PkiError('invalid-input', 'days must be an integer from 1 to 3650');
  const f = files(dir);
  let serial = newSerial();
  while (existsSync(path.join(f.issued, `${serial}.cert.pem`))) serial = newSerial();
  const now = options.now ?? new Date();
  const agency = identity.role === 'elterngeldstelle' || identity.role === 'familienkasse';
  const sans: x509.JsonGeneralNames =
    identity.kind === 'party'
      ? [
          { type: 'url', value: sanRole(identity.role!) },
          { type: 'url', value: sanDvdv(identity.dvdv!) },
          // The NATS user (verify_and_map takes the first e-mail SAN): one per certificate, so a
          // revoked certificate loses its user while its owner's newer one keeps its own.
          { type: 'email', value: natsUserOf(serial, identity.dvdv!) },
          ...identity.serverNames,
        ]
      : [...identity.serverNames];
  const subject: x509.JsonNameParams =
    identity.kind === 'party'
      ? [{ CN: [{ utf8String: identity.dvdv! }] }, { O: [{ utf8String: identity.name }] }, { OU: [{ utf8String: identity.role! }] }]
      : [{ CN: [{ utf8String: identity.serverNames[0]!.value }] }, { O: [{ utf8String: identity.name }] }];
  const serverAuth = identity.kind === 'tls-server' || identity.serverNames.length > 0;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: new x509.Name(subject),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days(validDays)),
    publicKey: csr.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ecdsaP256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (agency ? x509.KeyUsageFlags.keyAgreement : 0), true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, ...(serverAuth ? [x509.ExtendedKeyUsage.serverAuth] : [])]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      new x509.AuthorityKeyIdentifierExtension(ca.keyId),
    ],
  });
  const certificatePem = `${cert.toString('pem')}\n`;
  const certFile = path.join(f.issued, `${serial}.cert.pem`);
  writeFileSync(certFile, certificatePem, { flag: 'wx' });
  return { serial, certificatePem, certFile };
}

/** Signs a new CRL over `entries` (thisUpdate now, nextUpdate in `crlDays`, the next CRL number). */
async function writeCrl(dir: string, entries: readonly { serial: string; revokedAt: Date; reason?: number | undefined }[], options: { now?: Date; crlNumber: number; crlDays?: number }): Promise<void> {
  const ca = await loadCa(dir);
  const now = options.now ?? new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + days(options.crlDays ?? 30)),
    // Always a reason code: without one, @peculiar/x509 writes an empty crlEntryExtensions (SIZE 1..MAX).
    entries: entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, reason: e.reason ?? x509.X509CrlReason.unspecified })),
    extensions: [new x509.Extension('2.5.29.20', false, derInteger(options.crlNumber)), new x509.AuthorityKeyIdentifierExtension(ca.keyId)],
    signingKey: ca.key,
    signingAlgorithm: ecdsaP256,
  });
  // PEM label `X509 CRL` (RFC 7468): OpenSSL reads no other.
  writeAtomically(files(dir).crl, pem(crl.rawData, 'X509 CRL'));
}

/** The CA's current CRL, after checking that the CA signed it. */
export function readCrl(dir: string): RevocationList {
  const f = files(dir);
  if (!existsSync(f.caCert)) throw new PkiError('no-ca', `no CA in ${dir}`);
  const parsed = parseCrl(readFileSync(f.crl), readFileSync(f.caCert, 'utf8'));
  if (!parsed.success) throw new PkiError('bad-crl', parsed.error.message, { cause: parsed.error });
  return parsed.data;
}

export type RevocationReason = keyof typeof x509.X509CrlReason;

/** Revokes an issued certificate: a new CRL with every revoked serial and a new CRL number. */
export async function revoke(dir: string, serial: string, options: { reason?: RevocationReason; now?: Date } = {}): Promise<void> {
  const f = files(dir);
  const wanted = normalizeSerial(serial);
  if (!/^[0-9A-F]{1,40}$/.test(wanted) || !existsSync(path.join(f.issued, `${wanted}.cert.pem`))) {
    throw new PkiError('unknown-serial', `no certificate with serial ${serial} was issued here`);
  }
  const current = readCrl(dir);
  if (current.serials.has(wanted)) return;
  const reason = options.reason === undefined ? undefined : x509.X509CrlReason[options.reason];
  await writeCrl(dir, [...current.entries, { serial: wanted, revokedAt: options.now ?? new Date(), reason }], {
    crlNumber: (current.crlNumber ?? 0) + 1,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** Re-signs the CRL with the same entries (before its nextUpdate passes). */
export async function refreshCrl(dir: string, options: { now?: Date; crlDays?: number } = {}): Promise<RevocationList> {
  const current = readCrl(dir);
  await writeCrl(dir, current.entries, { crlNumber: (current.crlNumber ?? 0) + 1, ...options });
  return readCrl(dir);
}

/** Revoked serials from the CA directory's CRL, reloaded when the file changes (no restart). */
export function revocationSource(dir: string, options: { onError?: (error: CrlError) => void } = {}): CrlSource {
  const f = files(dir);
  if (!existsSync(f.caCert)) throw new PkiError('no-ca', `no CA in ${dir}`);
  return crlReloader(
    {
      stamp: () => {
        const s = statSync(f.crl);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      },
      read: () => readFileSync(f.crl),
    },
    readFileSync(f.caCert, 'utf8'),
    options,
  );
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
/** What a CA publishes, and all that expiry reporting needs: its certificate, its CRL, the certificates it issued. */
export interface PublishedPki {
  readonly caCertFile: string;
  readonly crlFile: string;
  readonly issuedDir: string;
}

/** Every issued certificate with its expiry; `expiresSoon` within `warnDays`. Reads public files only. */
export function pkiStatus(source: string | PublishedPki, options: { warnDays?: number; now?: Date } = {}): CertificateStatus[] {
  const published = typeof source === 'string' ? { caCertFile: files(source).caCert, crlFile: files(source).crl, issuedDir: files(source).issued } : source;
  if (!existsSync(published.caCertFile)) throw new PkiError('no-ca', `no CA certificate at ${published.caCertFile}`);
  const parsed = parseCrl(readFileSync(published.crlFile), readFileSync(published.caCertFile, 'utf8'));
  if (!parsed.success) throw new PkiError('bad-crl', parsed.error.message, { cause: parsed.error });
  const revoked = parsed.data.serials;
  const now = (options.now ?? new Date()).getTime();
  return readdirSync(published.issuedDir)
    .filter((n) => n.endsWith('.cert.pem'))
    .map((n) => {
      const cert = new X509Certificate(readFileSync(path.join(published.issuedDir, n)));
      const serial = normalizeSerial(cert.serialNumber);
      const daysLeft = Math.floor((Date.parse(cert.validTo) - now) / 86_400_000);
      return { serial, subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(cert.validTo).toISOString(), daysLeft, revoked: revoked.has(serial), expiresSoon: daysLeft <= (options.warnDays ?? 30) };
    });
}

export const caCertificate = (dir: string): string => readFileSync(files(dir).caCert, 'utf8');
