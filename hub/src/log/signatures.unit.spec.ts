import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaP256, x509, type DetachedSignature } from '../../../contracts/index.ts';
import { createMemoryEventStore } from './memory/memoryEventStore.ts';
import { certificatesStream, SignatureKeeper } from './signatures.ts';

async function selfSigned(): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=party', keys, signingAlgorithm: ecdsaP256 });
  return cert.toString('pem');
}

describe('signature keeper', () => {
  it('logs each signer certificate once, by fingerprint, however often and by however many keepers it is kept', async () => {
    const log = createMemoryEventStore();
    const certificate = await selfSigned();
    const signature: DetachedSignature = { alg: 'ES256', keyId: '01', value: 'c2ln', certificate };
    const fingerprint = createHash('sha256').update(new X509Certificate(certificate).raw).digest('hex');
    const keeper = new SignatureKeeper(log);
    const kept = await keeper.keep(signature);
    expect(kept).toEqual({ alg: 'ES256', keyId: '01', value: 'c2ln', certificate: fingerprint });
    // A later message carries its own copy of the same text.
    expect(await keeper.keep(JSON.parse(JSON.stringify({ ...signature, value: 'b3RoZXI' })) as DetachedSignature)).toEqual({ ...kept, value: 'b3RoZXI' });
    expect(await new SignatureKeeper(log).keep(signature)).toEqual(kept);
    const logged = [];
    for await (const e of log.readStream(certificatesStream)) logged.push(e);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ type: 'CertificateSeen', data: { data: { fingerprint, certificatePem: certificate } } });
  });
});
