// The exchange's CA (run offline by the exchange operator): EC P-256, issues certificates only
// from PKCS#10 requests (the party keeps its key; the CA never sees one), and publishes an
// X.509 v2 CRL. Certificates name role and DVDV address as SAN URIs and carry one e-mail SAN,
// unique per certificate, that nats-server maps to a user. @peculiar/x509 does the X.509 work.
import { createHash, randomBytes, X509Certificate, type webcrypto } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  altNames,
  derInteger,
  DvdvAddressSchema,
  dvdvUriPrefix,
  ecdsaP256,
  hostNamePattern,
  normalizeSerial,
  parseCrl,
  partyNamePattern,
  roleAddressMismatch,
  roleRules,
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
import { readIssuedCertificates, watchCaFiles, type PublishedCertificate } from '../../../connectors/kit/caFiles.ts';
import { appendIssuanceLog, entryKey, readRegister, verifyIssuanceLog, writeHolders, writeRegister, type RegisterEntry } from './register.ts';

/** The NATS user of one certificate: an e-mail SAN under the reserved `.invalid` domain, unique per certificate. */
export const natsUserOf = (serial: string, dvdv: string): string => `${normalizeSerial(serial).toLowerCase()}@${dvdv.replace(/:/g, '.')}.elfe-hub.invalid`;

export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code:
      | 'no-ca'
      | 'ca-exists'
      | 'unknown-serial'
      | 'invalid-input'
      | 'bad-revocation-list'
      | 'bad-request'
      | 'bad-crl'
      | 'ca-key-exposed'
      | 'busy'
      | 'not-registered'
      | 'already-registered'
      | 'role-mismatch'
      | 'hub-identity'
      | 'server-names'
      | 'validity'
      | 'already-signed'
      | 'address-held'
      | 'bad-replaces'
      | 'not-confirmed',
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
/** A `.gitignore` of `*` in `dir`: git ignores the directory and all it holds (keys, personal data). */
export function ignoredByGit(dir: string): void {
  const file = path.join(dir, '.gitignore');
  if (!existsSync(file)) writeFileSync(file, '# private keys and state of elfe: never committed\n*\n');
}

export async function pkiInit(dir: string, options: { name?: string; validDays?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const f = files(dir);
  if (existsSync(f.caKey)) throw new PkiError('ca-exists', `a CA already exists in ${dir}`);
  mkdirSync(f.issued, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // The CA key is never committed by accident, wherever the directory lies (`git add -A` skips it).
  ignoredByGit(dir);
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
  const ca = await loadCa(dir);
  const seq = await appendIssuanceLog(dir, caSigner(ca), 'init', { serial, subject: cert.subject, notAfter: cert.notAfter.toISOString() }, now);
  await writeHolders(f.issued, { version: 1, entries: [] }, caSigner(ca), seq, now);
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

/** The longest validity the CA gives any certificate (about 27 months). */
export const maxValidDays = 825;
/** The validity when none is asked for (capped by the CA's own). */
export const defaultValidDays = 365;

/** SHA-256 of a public key's SubjectPublicKeyInfo, as `SHA256:ab:cd:…`. */
const keyFingerprint = (spki: ArrayBuffer | Uint8Array): string => `SHA256:${(createHash('sha256').update(new Uint8Array(spki)).digest('hex').match(/../g) ?? []).join(':')}`;

export interface SignOptions {
  /** Validity in days (at most `maxValidDays`, never beyond the CA's own notAfter). */
  readonly days?: number;
  readonly now?: Date;
  /** Rotation: the serial of the certificate that holds the address now, which the new key takes over. */
  readonly replaces?: string;
  /** The hub's own enrolment (or the operator's explicit `--allow-hub-identity`): the `hub` role may be issued. */
  readonly allowHubIdentity?: boolean;
}

/** What the CA is about to sign, after every check of the request against the register. */
export interface SigningReview {
  readonly kind: 'party' | 'tls-server';
  readonly role?: Role;
  readonly dvdv?: string;
  /** The registered display name, written into the certificate. */
  readonly name: string;
  /** The name the request asked for, when it differs from the registered one. */
  readonly requestedName?: string;
  readonly subject: string;
  readonly serverNames: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly keyFingerprint: string;
  /** The certificate whose address this one takes over. */
  readonly replaces?: string;
  /** True for the hub's identity: issued only on the hub's own enrolment or an explicit flag. */
  readonly hubIdentity: boolean;
}

// One change at a time per CA directory: in this process a chain of promises, across processes
// an exclusive lock file (taken over when older than a minute: a crashed holder).
const chains = new Map<string, Promise<void>>();
export function withCa<T>(dir: string, run: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  if (!existsSync(files(key).caKey)) return Promise.reject(new PkiError('no-ca', `no CA in ${dir}: run elfe pki init`));
  const next = (chains.get(key) ?? Promise.resolve()).then(() => fileLocked(key, run));
  chains.set(key, next.then(() => undefined, () => undefined));
  return next;
}

async function fileLocked<T>(dir: string, run: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 60_000) unlinkSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new PkiError('busy', `the CA in ${dir} is busy (${lock})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await run();
  } finally {
    rmSync(lock, { force: true });
  }
}

const caSigner = (ca: Ca) => async (bytes: Uint8Array) => Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ca.key, bytes)).toString('base64');

/** Key fingerprints of every certificate this CA issued (its `issued/` and its log). */
function issuedKeys(dir: string): Set<string> {
  const f = files(dir);
  const seen = new Set<string>();
  for (const n of existsSync(f.issued) ? readdirSync(f.issued) : []) {
    if (!n.endsWith('.cert.pem')) continue;
    try {
      seen.add(keyFingerprint(new X509Certificate(readFileSync(path.join(f.issued, n))).publicKey.export({ type: 'spki', format: 'der' })));
    } catch {
      // not a certificate
    }
  }
  const log = verifyIssuanceLog(dir, readFileSync(f.caCert, 'utf8'));
  for (const e of log.entries) if (e.action === 'issue' && typeof e['keyFingerprint'] === 'string') seen.add(e['keyFingerprint']);
  return seen;
}

export interface RegistrationInput {
  readonly kind?: 'party' | 'tls-server';
  readonly role?: Role;
  readonly dvdv?: string;
  readonly name: string;
  readonly serverNames?: readonly string[];
}

/** Checks a registration against the role table; returns the entry to write. */
function checkedEntry(input: RegistrationInput, options: { allowHubIdentity?: boolean }, now: Date): RegisterEntry {
  const kind = input.kind ?? (input.role || input.dvdv ? 'party' : 'tls-server');
  if (!partyNamePattern.test(input.name)) throw new PkiError('invalid-input', 'a name has 1 to 200 characters and no control characters');
  const serverNames = [...new Set(input.serverNames ?? [])];
  for (const s of serverNames) if (!hostNamePattern.test(s) && !isIP(s)) throw new PkiError('invalid-input', `not a host name or IP address: ${s}`);
  if (kind === 'tls-server') {
    if (input.role || input.dvdv) throw new PkiError('invalid-input', 'a TLS server has no role and no DVDV address');
    if (serverNames.length === 0) throw new PkiError('invalid-input', 'a TLS server needs at least one --server-name');
    return { kind, name: input.name, serverNames, registeredAt: now.toISOString() };
  }
  const role = RoleSchema.safeParse(input.role);
  if (!role.success) throw new PkiError('invalid-input', `unknown role ${String(input.role)}; one of ${RoleSchema.options.join(', ')}`);
  const dvdv = DvdvAddressSchema.safeParse(input.dvdv);
  if (!dvdv.success) throw new PkiError('invalid-input', `not a DVDV address: ${String(input.dvdv)}`);
  const mismatch = roleAddressMismatch(role.data, dvdv.data);
  if (mismatch) throw new PkiError('role-mismatch', mismatch);
  if (roleRules[role.data].hubIdentity && !options.allowHubIdentity) {
    throw new PkiError('hub-identity', `${dvdv.data} is the hub's own identity: registered and issued only through the hub's enrolment or --allow-hub-identity`);
  }
  if (serverNames.length > 0 && !roleRules[role.data].serverIdentity) throw new PkiError('server-names', `a ${role.data} is no server identity: it has no DNS or IP names`);
  return { kind, role: role.data, dvdv: dvdv.data, name: input.name, serverNames, registeredAt: now.toISOString() };
}

const sameRegistration = (a: RegisterEntry, b: RegisterEntry) =>
  a.kind === b.kind && a.role === b.role && a.dvdv === b.dvdv && a.name === b.name && [...a.serverNames].sort().join(',') === [...b.serverNames].sort().join(',');

/**
 * Adds a party (role, DVDV address, display name, server names) or a TLS server (name, server
 * names) to the CA's register. The same registration again changes nothing; a different one
 * for a registered address is refused. Logged in the CA's signed issuance log.
 */
export async function registerParty(dir: string, input: RegistrationInput, options: { allowHubIdentity?: boolean; now?: Date } = {}): Promise<{ entry: RegisterEntry; added: boolean }> {
  return withCa(dir, async () => {
    const ca = await loadCa(dir);
    const now = options.now ?? new Date();
    const entry = checkedEntry(input, options, now);
    const register = readRegister(dir);
    const existing = register.entries.find((e) => entryKey(e) === entryKey(entry));
    if (existing) {
      if (sameRegistration(existing, entry)) return { entry: existing, added: false };
      throw new PkiError('already-registered', `${entryKey(entry)} is registered already as ${existing.role ?? 'tls-server'} "${existing.name}" (${existing.serverNames.join(', ') || 'no server names'})`);
    }
    writeRegister(dir, { version: 1, entries: [...register.entries, entry] });
    await appendIssuanceLog(dir, caSigner(ca), 'register', { kind: entry.kind, ...(entry.role ? { role: entry.role, dvdv: entry.dvdv } : {}), name: entry.name, serverNames: entry.serverNames }, now);
    return { entry, added: true };
  });
}

/**
 * A layout made before the CA kept a register (`elfe exchange init` on an existing data
 * directory): the party's certificate, if this CA issued it, becomes the registered holder of
 * its entry when the register names none. Logged as `adopt`; anything else changes nothing.
 */
export async function adoptCertificate(dir: string, certificatePem: string, input: RegistrationInput, options: { allowHubIdentity?: boolean } = {}): Promise<boolean> {
  return withCa(dir, async () => {
    const ca = await loadCa(dir);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificatePem);
    } catch {
      return false;
    }
    const serial = normalizeSerial(cert.serialNumber);
    const issuedFile = path.join(files(dir).issued, `${serial}.cert.pem`);
    if (!existsSync(issuedFile) || !new X509Certificate(readFileSync(issuedFile)).raw.equals(cert.raw)) return false;
    if (readCrl(dir).serials.has(serial)) return false;
    const now = new Date();
    const wanted = checkedEntry(input, options, now);
    const register = readRegister(dir);
    const existing = register.entries.find((e) => entryKey(e) === entryKey(wanted));
    if (existing?.holder !== undefined) return false;
    if (existing && !sameRegistration(existing, wanted)) return false;
    const sign = caSigner(ca);
    if (!existing) await appendIssuanceLog(dir, sign, 'register', { kind: wanted.kind, ...(wanted.role ? { role: wanted.role, dvdv: wanted.dvdv } : {}), name: wanted.name, serverNames: wanted.serverNames }, now);
    const entries = existing ? register.entries.map((e) => (e === existing ? { ...e, holder: serial } : e)) : [...register.entries, { ...wanted, holder: serial }];
    writeRegister(dir, { version: 1, entries });
    const seq = await appendIssuanceLog(dir, sign, 'adopt', { serial, key: entryKey(wanted), keyFingerprint: keyFingerprint(cert.publicKey.export({ type: 'spki', format: 'der' })) }, now);
    await writeHolders(files(dir).issued, readRegister(dir), sign, seq, now);
    return true;
  });
}

/** The register: every party and TLS server, with the certificate holding it. */
export function registerOf(dir: string): RegisterEntry[] {
  if (!existsSync(files(dir).caCert)) throw new PkiError('no-ca', `no CA in ${dir}`);
  return [...readRegister(dir).entries];
}

/** Checks a request against the register and the policy; nothing is written. */
async function review(dir: string, ca: Ca, csrPem: string, options: SignOptions): Promise<{ review: SigningReview; csr: x509.Pkcs10CertificateRequest; entry: RegisterEntry }> {
  const { csr, identity } = await readRequest(csrPem);
  // Validity first: it depends on nothing but the CA's own certificate.
  const now = options.now ?? new Date();
  const caNotAfter = ca.cert.notAfter.getTime();
  const notBefore = new Date(now.getTime() - 60_000);
  let notAfter: Date;
  if (options.days !== undefined) {
    if (!Number.isInteger(options.days) || options.days < 1 || options.days > maxValidDays) throw new PkiError('validity', `days must be a whole number from 1 to ${maxValidDays}, not ${options.days}`);
    notAfter = new Date(now.getTime() + days(options.days));
    if (notAfter.getTime() > caNotAfter) {
      throw new PkiError('validity', `${options.days} days would outlast the CA's own certificate (valid until ${ca.cert.notAfter.toISOString()}, ${Math.floor((caNotAfter - now.getTime()) / 86_400_000)} days from now)`);
    }
  } else {
    notAfter = new Date(Math.min(now.getTime() + days(defaultValidDays), caNotAfter));
  }
  if (notAfter.getTime() <= now.getTime()) throw new PkiError('validity', `the CA's own certificate expired ${ca.cert.notAfter.toISOString()}`);

  const requestedNames = identity.serverNames.map((s) => s.value);
  const register = readRegister(dir);
  let entry: RegisterEntry | undefined;
  if (identity.kind === 'party') {
    const role = identity.role!;
    const dvdv = identity.dvdv!;
    const mismatch = roleAddressMismatch(role, dvdv);
    if (mismatch) throw new PkiError('role-mismatch', `the request asks for ${role} at ${dvdv}: ${mismatch}`);
    if (roleRules[role].hubIdentity && !options.allowHubIdentity) {
      throw new PkiError('hub-identity', `the request asks for the hub's own identity (${role} at ${dvdv}); it is issued only through the hub's enrolment or with --allow-hub-identity`);
    }
    if (requestedNames.length > 0 && !roleRules[role].serverIdentity) throw new PkiError('server-names', `a ${role} is no server identity; the request asks for server names ${requestedNames.join(', ')}`);
    entry = register.entries.find((e) => e.kind === 'party' && e.dvdv === dvdv);
    if (!entry) throw new PkiError('not-registered', `${dvdv} is not in the CA's register: elfe pki register --role ${role} --dvdv ${dvdv} --name NAME first`);
    if (entry.role !== role) throw new PkiError('role-mismatch', `${dvdv} is registered as ${entry.role}, the request asks for ${role}`);
  } else {
    entry = register.entries.find((e) => e.kind === 'tls-server' && e.name === identity.name);
    if (!entry) throw new PkiError('not-registered', `no TLS server "${identity.name}" in the CA's register: elfe pki register --tls-server --name NAME --server-name HOST first`);
  }
  const unregistered = requestedNames.filter((n) => !entry.serverNames.includes(n));
  if (unregistered.length > 0) throw new PkiError('server-names', `server names not registered for ${entryKey(entry)}: ${unregistered.join(', ')}`);

  const spki = csr.publicKey.rawData;
  const fingerprint = keyFingerprint(spki);
  if (issuedKeys(dir).has(fingerprint)) throw new PkiError('already-signed', `this CA has signed a certificate for this key already (${fingerprint}); a new certificate needs a new key and request`);

  const replaces = options.replaces === undefined ? undefined : normalizeSerial(options.replaces);
  if (entry.holder !== undefined && replaces !== entry.holder) {
    throw new PkiError(
      'address-held',
      replaces === undefined
        ? `${entryKey(entry)} is held by certificate ${entry.holder}; a new key takes it over only by an explicit rotation: --replaces ${entry.holder}`
        : `--replaces ${replaces} does not name the holder of ${entryKey(entry)} (${entry.holder})`,
    );
  }
  if (entry.holder === undefined && replaces !== undefined) throw new PkiError('bad-replaces', `${entryKey(entry)} has no holder; --replaces ${replaces} names nothing to replace`);

  const subject =
    identity.kind === 'party' ? `CN=${identity.dvdv}, O=${entry.name}, OU=${identity.role}` : `CN=${requestedNames[0] ?? entry.serverNames[0]}, O=${entry.name}`;
  return {
    csr,
    entry,
    review: {
      kind: identity.kind,
      ...(identity.kind === 'party' ? { role: identity.role!, dvdv: identity.dvdv! } : {}),
      name: entry.name,
      ...(identity.name !== entry.name ? { requestedName: identity.name } : {}),
      subject,
      serverNames: requestedNames,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      keyFingerprint: fingerprint,
      ...(replaces !== undefined ? { replaces } : {}),
      hubIdentity: identity.role !== undefined && roleRules[identity.role].hubIdentity,
    },
  };
}

/** What `signRequest` would issue for this request, or the policy's refusal; nothing is written. */
export async function reviewRequest(dir: string, csrPem: string, options: SignOptions = {}): Promise<SigningReview> {
  return withCa(dir, async () => (await review(dir, await loadCa(dir), csrPem, options)).review);
}

/**
 * Issues a certificate for a PKCS#10 request of a registered party, under the CA's policy:
 * proof of possession and an EC P-256 key; role, address prefix and server names as the
 * register and the role table say; the `hub` role only with `allowHubIdentity`; never a
 * second certificate for the same key; an address held by another key only by an explicit
 * rotation (`replaces` names the holder); validity capped by the CA's own. The certificate
 * carries the registered name; it becomes the address's holder (the hub encrypts to it) and
 * the issuance is appended to the CA's signed issuance log.
 */
export async function signRequest(dir: string, csrPem: string, options: SignOptions = {}): Promise<IssuedCertificate & { readonly review: SigningReview }> {
  return withCa(dir, async () => {
    const ca = await loadCa(dir);
    const { review: checked, csr, entry } = await review(dir, ca, csrPem, options);
    const f = files(dir);
    let serial = newSerial();
    while (existsSync(path.join(f.issued, `${serial}.cert.pem`))) serial = newSerial();
    const agency = checked.role === 'elterngeldstelle' || checked.role === 'familienkasse';
    const serverNames = checked.serverNames.map((value) => ({ type: isIP(value) ? ('ip' as const) : ('dns' as const), value }));
    const sans: x509.JsonGeneralNames =
      checked.kind === 'party'
        ? [
            { type: 'url', value: sanRole(checked.role!) },
            { type: 'url', value: sanDvdv(checked.dvdv!) },
            // The NATS user (verify_and_map takes the first e-mail SAN): one per certificate, so a
            // revoked certificate loses its user while its owner's newer one keeps its own.
            { type: 'email', value: natsUserOf(serial, checked.dvdv!) },
            ...serverNames,
          ]
        : [...serverNames];
    const subject: x509.JsonNameParams =
      checked.kind === 'party'
        ? [{ CN: [{ utf8String: checked.dvdv! }] }, { O: [{ utf8String: checked.name }] }, { OU: [{ utf8String: checked.role! }] }]
        : [{ CN: [{ utf8String: serverNames[0]!.value }] }, { O: [{ utf8String: checked.name }] }];
    const serverAuth = checked.kind === 'tls-server' || serverNames.length > 0;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: new x509.Name(subject),
      issuer: ca.cert.subjectName,
      notBefore: new Date(checked.notBefore),
      notAfter: new Date(checked.notAfter),
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
    // The new certificate holds the address from now on (the hub encrypts to it).
    const register = readRegister(dir);
    const updated: RegisterEntry = { ...entry, holder: serial, previousHolders: [...(entry.previousHolders ?? []), ...(entry.holder ? [entry.holder] : [])] };
    writeRegister(dir, { version: 1, entries: register.entries.map((e) => (entryKey(e) === entryKey(entry) ? updated : e)) });
    const sign = caSigner(ca);
    const { kind, role, dvdv, name, serverNames: names, notBefore, notAfter, keyFingerprint: fp, replaces, hubIdentity } = checked;
    const seq = await appendIssuanceLog(dir, sign, 'issue', { serial, kind, ...(role ? { role, dvdv } : {}), name, serverNames: names, notBefore, notAfter, keyFingerprint: fp, ...(replaces ? { replaces } : {}), ...(hubIdentity ? { hubIdentity } : {}) });
    await writeHolders(f.issued, readRegister(dir), sign, seq);
    return { serial, certificatePem, certFile, review: checked };
  });
}

/**
 * The operator's own provisioning (`elfe exchange init`, the demo, `elfe cluster nats`, test
 * fixtures): registers the identity (as given, or as the request names it: the caller made the
 * request itself) when the register lacks it, then signs under the same policy. With `rotate`,
 * a held address is rotated to the new key (`replaces` = the current holder).
 */
export async function enrolRequest(dir: string, csrPem: string, options: SignOptions & { entry?: RegistrationInput; rotate?: boolean } = {}): Promise<IssuedCertificate & { readonly review: SigningReview }> {
  const { entry: given, rotate, ...signOptions } = options;
  let input = given;
  if (!input) {
    const { identity } = await readRequest(csrPem);
    input = identity.kind === 'party' ? { kind: 'party', role: identity.role!, dvdv: identity.dvdv!, name: identity.name, serverNames: identity.serverNames.map((s) => s.value) } : { kind: 'tls-server', name: identity.name, serverNames: identity.serverNames.map((s) => s.value) };
  }
  const key = entryKey({ kind: input.kind ?? (input.dvdv ? 'party' : 'tls-server'), dvdv: input.dvdv, name: input.name });
  if (existsSync(files(dir).caKey) && !readRegister(dir).entries.some((e) => entryKey(e) === key)) {
    await registerParty(dir, input, { ...(signOptions.allowHubIdentity ? { allowHubIdentity: true } : {}), ...(signOptions.now ? { now: signOptions.now } : {}) });
  }
  const holder = existsSync(files(dir).caKey) ? readRegister(dir).entries.find((e) => entryKey(e) === key)?.holder : undefined;
  return signRequest(dir, csrPem, { ...signOptions, ...(rotate && holder && signOptions.replaces === undefined ? { replaces: holder } : {}) });
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
  await withCa(dir, async () => {
    const current = readCrl(dir);
    if (current.serials.has(wanted)) return;
    const reason = options.reason === undefined ? undefined : x509.X509CrlReason[options.reason];
    const revokedAt = options.now ?? new Date();
    await writeCrl(dir, [...current.entries, { serial: wanted, revokedAt, reason }], {
      crlNumber: (current.crlNumber ?? 0) + 1,
      ...(options.now ? { now: options.now } : {}),
    });
    const holderOf = readRegister(dir).entries.find((e) => e.holder === wanted);
    await appendIssuanceLog(dir, caSigner(await loadCa(dir)), 'revoke', { serial: wanted, reason: options.reason ?? 'unspecified', ...(holderOf ? { held: entryKey(holderOf) } : {}) }, revokedAt);
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
  return watchCaFiles({ caCertificatePem: readFileSync(f.caCert, 'utf8'), crlFile: f.crl, crl: options }).revoked;
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
  const caPem = readFileSync(published.caCertFile, 'utf8');
  const parsed = parseCrl(readFileSync(published.crlFile), caPem);
  if (!parsed.success) throw new PkiError('bad-crl', parsed.error.message, { cause: parsed.error });
  return certificateStatuses(readIssuedCertificates(published.issuedDir, caPem).certificates, parsed.data.serials, options);
}

/** Expiry and revocation of certificates the CA issued (as `readIssuedCertificates` or the CA files' watcher read them). */
export function certificateStatuses(issued: readonly PublishedCertificate[], revoked: ReadonlySet<string>, options: { warnDays?: number; now?: Date } = {}): CertificateStatus[] {
  const now = (options.now ?? new Date()).getTime();
  return issued.map(({ cert, serial, validTo }) => {
    const daysLeft = Math.floor((validTo - now) / 86_400_000);
    return { serial, subject: cert.subject.replace(/\n/g, ', '), notAfter: new Date(validTo).toISOString(), daysLeft, revoked: revoked.has(serial), expiresSoon: daysLeft <= (options.warnDays ?? 30) };
  });
}

export const caCertificate = (dir: string): string => readFileSync(files(dir).caCert, 'utf8');
