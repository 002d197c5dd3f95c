// The exchange's PKI: issuing, the certificate verifier on the hot path, revocation without
// restart, expiry, and confidential payloads encrypted to an agency's certificate key.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, certificateVerifier, decryptPayload, encryptPayload } from '../../contracts/index.ts';
import { caCertificate, issueCertificate, pkiInit, pkiStatus, revocationSource, revoke, type IssuedCertificate } from '../../hub/src/pki/pki.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-pki-'));
const signerOf = (c: IssuedCertificate) => certificateSigner(createPrivateKey(readFileSync(c.keyFile)), c.certificatePem);

describe('exchange PKI', () => {
  let dir: string;
  let standesamt: IssuedCertificate;
  let egs: IssuedCertificate;
  let fk: IssuedCertificate;
  beforeAll(() => {
    dir = tmp();
    pkiInit(dir);
    standesamt = issueCertificate(dir, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Berlin-Mitte' });
    egs = issueCertificate(dir, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    fk = issueCertificate(dir, { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Berlin-Brandenburg' });
  });

  it('issues certificates that node:crypto reads, with role and DVDV address as SAN URIs', () => {
    const cert = new X509Certificate(standesamt.certificatePem);
    expect(cert.subjectAltName).toContain('URI:urn:elfe:role:standesamt');
    expect(cert.subjectAltName).toContain('URI:urn:elfe:dvdv:psw:11007007');
    expect(cert.checkIssued(new X509Certificate(caCertificate(dir)))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(new X509Certificate(caCertificate(dir)).ca).toBe(true);
    // Names with umlauts survive as UTF-8 (TLS peers refuse mis-encoded subjects).
    const umlaut = issueCertificate(dir, { role: 'meldebehoerde', dvdv: 'mbh:demo', name: 'Meldebehörde Jüterbog' });
    expect(new X509Certificate(umlaut.certificatePem).subject).toContain('O=Meldebehörde Jüterbog');
  });

  it('accepts a good signature and says who signed', () => {
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(dir), revokedSerials: revocationSource(dir) });
    const signer = signerOf(standesamt);
    const value = { hello: 'Zoë' };
    const verified = verifier.verify(value, signer.sign(value));
    expect(verified.success && verified.data).toMatchObject({ role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Berlin-Mitte' });
    expect(verifier.verify({ hello: 'Zoe' }, signer.sign(value))).toMatchObject({ success: false, error: { code: 'signature-invalid' } });
  });

  it('refuses a certificate from a foreign CA, an expired one and a revoked one (revocation without restart)', () => {
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(dir), revokedSerials: revocationSource(dir) });
    const foreignDir = tmp();
    pkiInit(foreignDir);
    const foreign = issueCertificate(foreignDir, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Impostor' });
    const code = (c: IssuedCertificate) => {
      const r = verifier.verify({ a: 1 }, signerOf(c).sign({ a: 1 }));
      return r.success ? 'accepted' : r.error.code;
    };
    expect(code(foreign)).toBe('certificate-invalid');
    const expired = issueCertificate(dir, { role: 'standesamt', dvdv: 'psw:04011000', name: 'Old', validDays: 1, now: new Date(Date.now() - 10 * 86_400_000) });
    expect(code(expired)).toBe('certificate-expired');
    const soonRevoked = issueCertificate(dir, { role: 'standesamt', dvdv: 'psw:02000000', name: 'Hamburg' });
    expect(code(soonRevoked)).toBe('accepted');
    revoke(dir, soonRevoked.serial);
    expect(code(soonRevoked)).toBe('certificate-revoked');
    expect(code(standesamt)).toBe('accepted');
  });

  it('reports certificates that expire soon', () => {
    const d = tmp();
    pkiInit(d);
    issueCertificate(d, { role: 'familienkasse', dvdv: 'fka:nord', name: 'FK Nord', validDays: 10 });
    issueCertificate(d, { role: 'familienkasse', dvdv: 'fka:ost', name: 'FK Ost', validDays: 400 });
    const status = pkiStatus(d, { warnDays: 30 });
    expect(status.filter((s) => s.expiresSoon).map((s) => s.subject)).toEqual([expect.stringContaining('fka:nord')]);
  });

  it('encrypts a payload for one agency: the other cannot read it, altered or re-addressed ciphertext is refused', async () => {
    const payload = { dataSet: 'beeg-25', child: { firstNames: ['Zoë'] } };
    const egsPublic = new X509Certificate(egs.certificatePem).publicKey;
    const jwe = await encryptPayload(payload, egsPublic, 'delivery-1');
    const egsKey = createPrivateKey(readFileSync(egs.keyFile));
    expect(await decryptPayload(jwe, egsKey, 'delivery-1')).toEqual({ success: true, data: payload });
    expect(await decryptPayload(jwe, createPrivateKey(readFileSync(fk.keyFile)), 'delivery-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
    expect(await decryptPayload(jwe, egsKey, 'delivery-2')).toMatchObject({ success: false, error: { code: 'wrong-delivery' } });
    const parts = jwe.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[3] = ciphertext.toString('base64url');
    expect(await decryptPayload(parts.join('.'), egsKey, 'delivery-1')).toMatchObject({ success: false, error: { code: 'decryption-failed' } });
  });
});
