// The exchange's PKI with real crypto and files: issuing only from CSRs, proof of possession,
// the X.509 CRL (checked by OpenSSL too), revocation without restart, ES256 signatures and
// ECDH-ES payload encryption to an agency's certificate key.
import { execFileSync, spawnSync } from 'node:child_process';
import { sign as cryptoSign, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  certificateFacts,
  certificateSigner,
  certificateVerifier,
  decryptPayload,
  ecdsaP256,
  encryptPayload,
  sanDvdv,
  sanRole,
  x509,
  type CrlError,
} from '../../contracts/index.ts';
import { createRequest, crlSource, credentialFiles, loadCredentials } from '../../connectors/kit/credentials.ts';
import { caCertificate, crlFileOf, enrolRequest, pkiInit, pkiStatus, readCrl, revoke, signRequest } from '../../hub/src/pki/pki.ts';
import { issueParty, tmpDir, type TestParty } from '../support/parties.ts';

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
if (!openssl) console.warn('skipped: the openssl binary was not found; the OpenSSL cross-checks of certificates and CRL did not run');

const code = async <T>(p: Promise<T>) => p.then(() => 'accepted', (e: { code?: string }) => e.code ?? String(e));

/** Every file under `dir`, recursively. */
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));

/** A CSR with the elfe SANs over an arbitrary key pair and algorithm. */
type CsrParams = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0];
async function csrWith(keys: CsrParams['keys'], signingAlgorithm: CsrParams['signingAlgorithm']): Promise<string> {
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name([{ CN: [{ utf8String: 'psw:11007007' }] }, { O: [{ utf8String: 'Standesamt' }] }, { OU: [{ utf8String: 'standesamt' }] }]),
    keys,
    signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: sanRole('standesamt') }, { type: 'url', value: sanDvdv('psw:11007007') }])],
  });
  return req.toString('pem');
}

const p256 = () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);

describe('exchange PKI', () => {
  let ca: string;
  let standesamt: TestParty;
  let egs: TestParty;
  let fk: TestParty;
  beforeAll(async () => {
    ca = tmpDir('ca');
    await pkiInit(ca);
    standesamt = await issueParty(ca, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Berlin-Mitte' });
    egs = await issueParty(ca, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    fk = await issueParty(ca, { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Berlin-Brandenburg' });
  });

  it('issues from a CSR only: the party keeps its key, the CA directory never holds one', async () => {
    const cert = new X509Certificate(standesamt.certificatePem);
    expect(cert.subjectAltName).toContain('URI:urn:elfe:role:standesamt');
    expect(cert.subjectAltName).toContain('URI:urn:elfe:dvdv:psw:11007007');
    expect(cert.subjectAltName).toContain(`email:${standesamt.serial.toLowerCase()}@psw.11007007.elfe-hub.invalid`);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkIssued(new X509Certificate(caCertificate(ca)))).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // node reports the extended key usage: clientAuth
    const caFiles = walk(ca);
    const keyFiles = caFiles.filter((f) => readFileSync(f, 'utf8').includes('PRIVATE KEY'));
    expect(keyFiles).toEqual([path.join(ca, 'ca.key.pem')]);
    const partyKey = readFileSync(standesamt.keyFile, 'utf8');
    expect(caFiles.some((f) => readFileSync(f, 'utf8').includes(partyKey.split('\n')[1]!))).toBe(false);
    // Names with umlauts survive as UTF-8 (TLS peers refuse mis-encoded subjects).
    const umlaut = await issueParty(ca, { role: 'meldebehoerde', dvdv: 'mbh:demo', name: 'Meldebehörde Jüterbog, Süd' });
    expect(new X509Certificate(umlaut.certificatePem).subject).toContain('O=Meldebehörde Jüterbog\\, Süd');
    expect(certificateFacts(new X509Certificate(umlaut.certificatePem))?.name).toBe('Meldebehörde Jüterbog, Süd');
  });

  it('writes the private key 0600 in a 0700 directory even under umask 000, and refuses an exposed key', async () => {
    const previous = process.umask(0);
    let dir: string;
    try {
      dir = path.join(tmpDir('umask'), 'party');
      await createRequest(dir, { role: 'standesamt', dvdv: 'psw:02000000', name: 'Hamburg' });
    } finally {
      process.umask(previous);
    }
    const files = credentialFiles(dir);
    expect(statSync(files.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    await expect(code(createRequest(dir, { role: 'standesamt', dvdv: 'psw:02000000', name: 'Hamburg' }))).resolves.toBe('exists');
    writeFileSync(files.certFile, (await enrolRequest(ca, readFileSync(files.requestFile, 'utf8'))).certificatePem);
    expect(loadCredentials(dir).keyFile).toBe(files.keyFile);
    chmodSync(files.keyFile, 0o644);
    expect(() => loadCredentials(dir)).toThrow(expect.objectContaining({ code: 'key-exposed' }));
  });

  it('refuses a forged CSR (not signed by the key it names), a non-P-256 key and bad names', async () => {
    const a = await p256();
    const b = await p256();
    const forged = await csrWith({ publicKey: a.publicKey, privateKey: b.privateKey }, ecdsaP256);
    await expect(code(signRequest(ca, forged))).resolves.toBe('bad-request');
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    await expect(code(signRequest(ca, await csrWith(p384, { name: 'ECDSA', hash: 'SHA-384' })))).resolves.toBe('bad-request');
    const rsa = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    await expect(code(signRequest(ca, await csrWith(rsa, { name: 'RSASSA-PKCS1-v1_5' })))).resolves.toBe('bad-request');
    await expect(code(signRequest(ca, 'not a request'))).resolves.toBe('bad-request');
    expect(await code(enrolRequest(ca, await csrWith(a, ecdsaP256), { rotate: true }))).toBe('accepted');
    await expect(code(createRequest(tmpDir('bad'), { role: 'standesamt', dvdv: 'no address', name: 'x' }))).resolves.toBe('invalid-input');
  });

  it.skipIf(!openssl)('OpenSSL verifies certificates against the CA and CRL, and refuses a revoked one', async () => {
    const party = await issueParty(ca, { role: 'familienkasse', dvdv: 'fka:nord', name: 'Familienkasse Nord' });
    const tls = await issueParty(ca, { tlsServer: true, name: 'nats-server', serverNames: ['127.0.0.1', 'localhost'] });
    const verify = (file: string) => spawnSync('openssl', ['verify', '-CAfile', path.join(ca, 'ca.cert.pem'), '-CRLfile', crlFileOf(ca), '-crl_check', file], { encoding: 'utf8' });
    expect(verify(party.certFile)).toMatchObject({ status: 0 });
    expect(verify(tls.certFile)).toMatchObject({ status: 0 });
    execFileSync('openssl', ['crl', '-in', crlFileOf(ca), '-noout', '-CAfile', path.join(ca, 'ca.cert.pem')], { stdio: 'pipe' });
    await revoke(ca, party.serial, { reason: 'keyCompromise' });
    const refused = verify(party.certFile);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain('certificate revoked');
    expect(verify(tls.certFile)).toMatchObject({ status: 0 });
    const text = execFileSync('openssl', ['crl', '-in', crlFileOf(ca), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('Key Compromise');
    expect(text).toMatch(/CRL Number:\s*\n\s*\d+/);
  });

  it('signs ES256 and verifies who signed; a tampered value, a foreign CA and an expired certificate are refused', async () => {
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(ca), revokedSerials: crlSource(crlFileOf(ca), caCertificate(ca)) });
    const signer = certificateSigner(standesamt.privateKey, standesamt.certificatePem);
    const value = { hello: 'Zoë' };
    const signature = signer.sign(value);
    expect(signature.alg).toBe('ES256');
    expect(Buffer.from(signature.value, 'base64')).toHaveLength(64); // IEEE P1363 r‖s
    const verified = verifier.verify(value, signature);
    expect(verified.success && verified.data).toMatchObject({ role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Berlin-Mitte', keyId: standesamt.serial });
    expect(verifier.verify({ hello: 'Zoe' }, signature)).toMatchObject({ success: false, error: { code: 'signature-invalid' } });
    const result = (p: TestParty) => {
      const r = verifier.verify({ a: 1 }, certificateSigner(p.privateKey, p.certificatePem).sign({ a: 1 }));
      return r.success ? 'accepted' : r.error.code;
    };
    const foreignCa = tmpDir('foreign');
    await pkiInit(foreignCa);
    expect(result(await issueParty(foreignCa, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Impostor' }))).toBe('certificate-invalid');
    expect(result(await issueParty(ca, { role: 'standesamt', dvdv: 'psw:04011000', name: 'Old' }, { days: 1, now: new Date(Date.now() - 10 * 86_400_000) }))).toBe('certificate-expired');
    expect(verifier.verify(value, { ...signature, alg: 'Ed25519' })).toMatchObject({ success: false, error: { code: 'signature-malformed' } });
  });

  it('re-reads the CRL without restart: a revocation refuses the next signature', async () => {
    const source = crlSource(crlFileOf(ca), caCertificate(ca));
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(ca), revokedSerials: source });
    const party = await issueParty(ca, { role: 'standesamt', dvdv: 'psw:09000000', name: 'Standesamt Köln' });
    const signer = certificateSigner(party.privateKey, party.certificatePem);
    expect(verifier.verify({ n: 1 }, signer.sign({ n: 1 })).success).toBe(true);
    await revoke(ca, party.serial);
    expect(verifier.verify({ n: 2 }, signer.sign({ n: 2 }))).toMatchObject({ success: false, error: { code: 'certificate-revoked' } });
    expect(source.current.serials.has(party.serial)).toBe(true);
    expect(verifier.verify({ n: 3 }, certificateSigner(standesamt.privateKey, standesamt.certificatePem).sign({ n: 3 })).success).toBe(true);
  });

  it('refuses a CRL signed by another CA, and keeps the last good one when a reload is bad', async () => {
    const other = tmpDir('other-ca');
    await pkiInit(other);
    expect(() => crlSource(crlFileOf(other), caCertificate(ca))).toThrow(expect.objectContaining({ code: 'bad-crl' }));
    const mine = tmpDir('crl-copy');
    const crlFile = path.join(mine, 'crl.pem');
    copyFileSync(crlFileOf(ca), crlFile);
    const errors: CrlError[] = [];
    const source = crlSource(crlFile, caCertificate(ca), { onError: (e) => errors.push(e) });
    const good = readCrl(ca).serials;
    expect(source()).toEqual(good);
    copyFileSync(crlFileOf(other), crlFile); // a foreign CRL that revokes nothing
    expect(source()).toEqual(good);
    expect(source.lastError?.code).toBe('bad-crl');
    expect(errors.map((e) => e.code)).toEqual(['bad-crl']);
    copyFileSync(crlFileOf(ca), crlFile);
    expect(source()).toEqual(good);
    expect(source.lastError).toBeUndefined();
  });

  it('a TLS-server-only certificate never verifies as a signer', async () => {
    const tls = await issueParty(ca, { tlsServer: true, name: 'nats-server', serverNames: ['localhost'] });
    expect(() => certificateSigner(tls.privateKey, tls.certificatePem)).toThrow(TypeError);
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(ca), revokedSerials: () => new Set() });
    const value = { type: 'BirthRegistered' };
    const forged = {
      alg: 'ES256' as const,
      keyId: tls.serial,
      value: cryptoSign('sha256', canonicalBytes(value), { key: tls.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64'),
      certificate: tls.certificatePem,
    };
    expect(verifier.verify(value, forged)).toMatchObject({ success: false, error: { code: 'certificate-invalid' } });
    expect(new X509Certificate(tls.certificatePem).subjectAltName).not.toContain('email:');
  });

  it('reports certificates that expire soon', async () => {
    const d = tmpDir('status');
    await pkiInit(d);
    await issueParty(d, { role: 'familienkasse', dvdv: 'fka:nord', name: 'FK Nord' }, { days: 10 });
    await issueParty(d, { role: 'familienkasse', dvdv: 'fka:ost', name: 'FK Ost' }, { days: 400 });
    const status = pkiStatus(d, { warnDays: 30 });
    expect(status.filter((s) => s.expiresSoon).map((s) => s.subject)).toEqual([expect.stringContaining('fka:nord')]);
    await expect(code(pkiInit(d))).resolves.toBe('ca-exists');
    await expect(code(revoke(d, 'ABCDEF'))).resolves.toBe('unknown-serial');
    chmodSync(path.join(d, 'ca.key.pem'), 0o640);
    await expect(code(signRequest(d, readFileSync(path.join(fk.dir, 'request.csr'), 'utf8')))).resolves.toBe('ca-key-exposed');
  });

  it('encrypts a payload for one agency (ECDH-ES): the other cannot read it, altered or re-addressed ciphertext is refused', async () => {
    const payload = { dataSet: 'beeg-25', child: { firstNames: ['Zoë'] } };
    const jwe = await encryptPayload(payload, new X509Certificate(egs.certificatePem).publicKey, 'delivery-1');
    expect(JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', 'elfe-delivery-id': 'delivery-1' });
    expect(await decryptPayload(jwe, egs.privateKey, 'delivery-1')).toEqual({ success: true, data: payload });
    expect(await decryptPayload(jwe, fk.privateKey, 'delivery-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
    expect(await decryptPayload(jwe, egs.privateKey, 'delivery-2')).toMatchObject({ success: false, error: { code: 'wrong-delivery' } });
    const parts = jwe.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[3] = ciphertext.toString('base64url');
    expect(await decryptPayload(parts.join('.'), egs.privateKey, 'delivery-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
    expect(new X509Certificate(egs.certificatePem).subjectAltName).toBeDefined();
  });
});
