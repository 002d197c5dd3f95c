// The certificate verifier against certificates made in memory by a throwaway CA, including
// ones the exchange's CA would never issue: the verifier must not rely on the CA's care.
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateFacts, certificateSigner, certificateVerifier } from './certificates.ts';
import { ecdsaP256, sanDvdv, sanRole, x509 } from './x509.ts';

type Keys = webcrypto.CryptoKeyPair;

const generateP256 = (): Promise<Keys> => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const keyObject = async (k: webcrypto.CryptoKey): Promise<KeyObject> => createPrivateKey({ key: Buffer.from(await crypto.subtle.exportKey('pkcs8', k)), format: 'der', type: 'pkcs8' });

describe('certificate verifier', () => {
  let caKeys: Keys;
  let caPem: string;
  let caName: x509.Name;
  const issue = async (options: { uris: string[]; usages?: number; publicKey?: webcrypto.CryptoKey | x509.PublicKey; keys?: Keys }) => {
    const keys = options.keys ?? (await generateP256());
    const cert = await x509.X509CertificateGenerator.create({
      subject: new x509.Name([{ CN: [{ utf8String: 'party' }] }, { O: [{ utf8String: 'Standesamt Köln' }] }]),
      issuer: caName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: options.publicKey ?? keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ecdsaP256,
      extensions: [
        new x509.KeyUsagesExtension(options.usages ?? x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension(options.uris.map((value) => ({ type: 'url' as const, value }))),
      ],
    });
    return { pem: cert.toString('pem'), privateKey: await keyObject(keys.privateKey) };
  };
  const standesamt = [sanRole('standesamt'), sanDvdv('psw:11007007')];

  beforeAll(async () => {
    caKeys = await generateP256();
    caName = new x509.Name([{ CN: [{ utf8String: 'Test CA' }] }]);
    caPem = (await x509.X509CertificateGenerator.createSelfSigned({ name: caName, keys: caKeys, signingAlgorithm: ecdsaP256, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] })).toString('pem');
  });

  it('verifies ES256 and names the signer; refuses a tampered value', async () => {
    const party = await issue({ uris: standesamt });
    const verifier = certificateVerifier({ caCertificatePem: caPem, revokedSerials: () => new Set() });
    const signature = certificateSigner(party.privateKey, party.pem).sign({ a: 'ä' });
    expect(verifier.verify({ a: 'ä' }, signature)).toMatchObject({ success: true, data: { role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Köln' } });
    expect(verifier.verify({ a: 'a' }, signature)).toMatchObject({ success: false, error: { code: 'signature-invalid' } });
    expect(verifier.verify({ a: 'ä' }, { ...signature, value: Buffer.alloc(64).toString('base64') })).toMatchObject({ success: false, error: { code: 'signature-invalid' } });
  });

  it('refuses certificates that name two roles, no role, or do not allow signing', async () => {
    const twoRoles = await issue({ uris: [...standesamt, sanRole('hub')] });
    expect(certificateFacts(new X509Certificate(twoRoles.pem))).toBeUndefined();
    expect(certificateFacts(new X509Certificate((await issue({ uris: [sanDvdv('psw:1')] })).pem))).toBeUndefined();
    expect(certificateFacts(new X509Certificate((await issue({ uris: [sanRole('standesamt'), sanDvdv('no address')] })).pem))).toBeUndefined();
    const noSigning = await issue({ uris: standesamt, usages: x509.KeyUsageFlags.keyAgreement });
    const verifier = certificateVerifier({ caCertificatePem: caPem, revokedSerials: () => new Set() });
    const r = verifier.verify({ a: 1 }, certificateSigner(noSigning.privateKey, noSigning.pem).sign({ a: 1 }));
    expect(r).toMatchObject({ success: false, error: { code: 'certificate-invalid' } });
  });

  it('refuses a signer whose key is not the certificate\'s, and a certificate over a non-P-256 key', async () => {
    const party = await issue({ uris: standesamt });
    const other = await keyObject((await generateP256()).privateKey);
    expect(() => certificateSigner(other, party.pem)).toThrow(TypeError);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaCert = await issue({ uris: standesamt, publicKey: new x509.PublicKey(rsa.publicKey.export({ type: 'spki', format: 'der' })) });
    expect(() => certificateSigner(rsa.privateKey, rsaCert.pem)).toThrow(TypeError);
    const verifier = certificateVerifier({ caCertificatePem: caPem, revokedSerials: () => new Set() });
    const forged = { alg: 'ES256' as const, keyId: 'x', value: Buffer.alloc(64).toString('base64'), certificate: rsaCert.pem };
    expect(verifier.verify({ a: 1 }, forged)).toMatchObject({ success: false, error: { code: 'certificate-invalid' } });
  });
});
