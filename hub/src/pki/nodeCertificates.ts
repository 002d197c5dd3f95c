// The NATS nodes' own identity: a dedicated certificate role for nats-server nodes, the only
// certificates that may form cluster routes. A node certificate names the node's route names
// (DNS or IP SANs, for TLS host-name checks) and carries one e-mail SAN that is the same for
// every node and that no party's certificate can carry: the CA assigns every e-mail SAN itself
// (a party's is `<serial>@<dvdv>.elfe-hub.invalid`, and requests asking for e-mail names are
// refused). The nodes' cluster block maps a route's certificate to that name (`verify_and_map`
// with the cluster `authorization { user }`), so a certificate of any other role of the same
// CA (a Standesamt's, an agency's, a TLS server's) cannot open a route. A node certificate has
// no role and no DVDV address: it is no NATS client user and signs nothing.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { altNames, CodedError, ecdsaP256, hostNamePattern, partyNamePattern, x509 } from '../../../contracts/index.ts';
import { withCa } from './pki.ts';
import { appendIssuanceLog } from './register.ts';
import type { PublishedCertificate } from '../../../connectors/kit/caFiles.ts';

/** The one name every node certificate maps to on a route (reserved `.invalid` domain, no hex serial before the `@`). */
export const natsNodeRouteUser = 'nats-node@routes.elfe-hub.invalid';
/** The organisational unit that marks a node certificate. */
export const natsNodeUnit = 'nats-node';

export class NodeCertificateError extends CodedError<'no-ca' | 'ca-key-exposed' | 'bad-request' | 'invalid-input'> {
  override readonly name = 'NodeCertificateError';
}

const pem = (der: ArrayBuffer, label: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
const dayMs = 86_400_000;

/** Whether a certificate is a node certificate of this exchange (by its route e-mail SAN and unit). */
export function isNodeCertificate(certificatePem: string): boolean {
  try {
    const cert = new x509.X509Certificate(certificatePem);
    return altNames(cert.extensions).emails.includes(natsNodeRouteUser) && cert.subjectName.getField('OU').includes(natsNodeUnit);
  } catch {
    return false;
  }
}

/**
 * The route pins of a cluster: SHA-256 (hex, as nats-server's `pinned_certs` wants it) of the
 * public key of every node certificate the CA issued (as its files' watcher read them) that is
 * valid now and not revoked.
 */
export function nodePins(issued: readonly PublishedCertificate[], revoked: ReadonlySet<string>, now = new Date()): string[] {
  const pins: string[] = [];
  for (const c of issued) {
    if (!isNodeCertificate(c.pem) || revoked.has(c.serial)) continue;
    if (now.getTime() < c.validFrom || now.getTime() > c.validTo) continue;
    pins.push(createHash('sha256').update(c.cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'));
  }
  return pins;
}

/**
 * Issues a node certificate for a PKCS#10 request of a nats-server node (`createRequest` with
 * `tlsServer: true`): proof of possession, EC P-256, only DNS/IP route names (no role, no DVDV
 * address, no e-mail). Written to the CA's `issued/` like every certificate (so it can be
 * listed and revoked there) and entered in the CA's signed issuance log (`kind: nats-node`).
 * Runs at the CA, which keeps its own key.
 */
export function signNodeRequest(caDir: string, csrPem: string, options: { days?: number; now?: Date } = {}): Promise<{ serial: string; certificatePem: string; certFile: string }> {
  // One change at a time at the CA (the issuance log is a chain), as `elfe pki sign` does it.
  return withCa(caDir, () => issueNode(caDir, csrPem, options));
}

async function issueNode(caDir: string, csrPem: string, options: { days?: number; now?: Date }): Promise<{ serial: string; certificatePem: string; certFile: string }> {
  const caKeyFile = path.join(caDir, 'ca.key.pem');
  const caCertFile = path.join(caDir, 'ca.cert.pem');
  if (!existsSync(caKeyFile) || !existsSync(caCertFile)) throw new NodeCertificateError('no-ca', `no CA in ${caDir}: run elfe pki init`);
  if ((statSync(caKeyFile).mode & 0o077) !== 0) throw new NodeCertificateError('ca-key-exposed', `${caKeyFile}: the CA key is readable by group or others (chmod 600)`);
  const caCert = new x509.X509Certificate(readFileSync(caCertFile, 'utf8'));
  const caKey = await crypto.subtle.importKey('pkcs8', Buffer.from(readFileSync(caKeyFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (!caKeyId) throw new NodeCertificateError('no-ca', `the CA certificate in ${caDir} has no subject key identifier`);

  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (error) {
    throw new NodeCertificateError('bad-request', 'the certificate request cannot be read', { cause: error });
  }
  const alg = csr.publicKey.algorithm as unknown as { name?: string; namedCurve?: string };
  if ((alg.name !== 'ECDSA' && alg.name !== 'ECDH') || alg.namedCurve !== 'P-256') throw new NodeCertificateError('bad-request', "the request's key is not EC P-256");
  if (!(await csr.verify().catch(() => false))) throw new NodeCertificateError('bad-request', 'the request is not signed by the key it names (no proof of possession)');
  const names = altNames(csr.extensions);
  if (names.uris.length > 0 || names.emails.length > 0 || names.other > 0) throw new NodeCertificateError('bad-request', 'a node request names only its route names (DNS or IP), no role, address or e-mail');
  const routeNames = [...names.dns.map((value) => ({ type: 'dns' as const, value: value.toLowerCase() })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))];
  if (routeNames.length === 0) throw new NodeCertificateError('bad-request', 'a node request needs at least one route name (DNS or IP)');
  for (const n of routeNames) {
    if (n.type === 'dns' ? !hostNamePattern.test(n.value) : !isIP(n.value)) throw new NodeCertificateError('bad-request', `not a host name or IP address: ${n.value}`);
  }
  const name = csr.subjectName.getField('O')[0];
  if (!name || !partyNamePattern.test(name)) throw new NodeCertificateError('bad-request', 'the request names no organisation (O=) of 1 to 200 characters');

  const now = options.now ?? new Date();
  const validDays = options.days ?? 365;
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > 825) throw new NodeCertificateError('invalid-input', 'days must be an integer from 1 to 825');
  const notAfter = new Date(Math.min(now.getTime() + validDays * dayMs, caCert.notAfter.getTime()));
  const issuedDir = path.join(caDir, 'issued');
  mkdirSync(issuedDir, { recursive: true });
  let serial = '';
  do {
    const bytes = randomBytes(16);
    bytes[0] = (bytes[0]! & 0x7f) | 0x10; // positive, 16 bytes
    serial = bytes.toString('hex').toUpperCase();
  } while (existsSync(path.join(issuedDir, `${serial}.cert.pem`)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: new x509.Name([{ CN: [{ utf8String: routeNames[0]!.value }] }, { O: [{ utf8String: name }] }, { OU: [{ utf8String: natsNodeUnit }] }]),
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey: csr.publicKey,
    signingKey: caKey,
    signingAlgorithm: ecdsaP256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // A route is TLS both ways: the node serves (serverAuth) and dials (clientAuth).
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([...routeNames, { type: 'email', value: natsNodeRouteUser }]),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      new x509.AuthorityKeyIdentifierExtension(caKeyId),
    ],
  });
  const certificatePem = pem(cert.rawData, 'CERTIFICATE');
  const certFile = path.join(issuedDir, `${serial}.cert.pem`);
  writeFileSync(certFile, certificatePem, { flag: 'wx' });
  const sign = async (bytes: Uint8Array) => Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, caKey, bytes)).toString('base64');
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  const keyFingerprint = `SHA256:${(createHash('sha256').update(spki).digest('hex').match(/../g) ?? []).join(':')}`;
  await appendIssuanceLog(caDir, sign, 'issue', {
    serial,
    kind: 'nats-node',
    name,
    serverNames: routeNames.map((n) => n.value),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    keyFingerprint,
  });
  return { serial, certificatePem, certFile };
}
