// The crypto of one birth, measured: the exchange's EC P-256 stack (ES256 signatures,
// ECDH-ES+A256KW JWE on node:crypto) beside jose's JWE (WebCrypto, the earlier
// implementation) and beside the RSA-3072 stack it replaced (PS256, RSA-OAEP-256), with raw
// operation rates, the certificate verifier a party really uses, and the cost of the
// operations one birth needs (two deliveries).
import { constants, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { canonicalBytes, certificateVerifier, decryptPayload, encryptPayload, type DetachedSignature } from '../../contracts/index.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { SignatureKeeper } from '../../hub/src/log/signatures.ts';
import { caCertFileOf, caCertificate, crlFileOf, pkiInit, revocationSource } from '../../hub/src/pki/pki.ts';
import { issueParty, tmpDir } from '../../hub/src/runner/parties.ts';
import type { Figure, Section } from '../report.ts';

const payload = { filler: 'x'.repeat(1500) };
const data = Buffer.from(JSON.stringify(payload));

/**
 * Operations per second of each operation, measured in alternating 50 ms slices: the machine
 * is shared, and a change in its load then falls on all of them alike, so their ratios hold.
 */
async function rates<K extends string>(operations: Record<K, () => unknown>, msEach = 700): Promise<Record<K, number>> {
  const entries = Object.entries(operations) as [K, () => unknown][];
  const count = new Map<K, number>(entries.map(([name]) => [name, 0]));
  const spent = new Map<K, number>(entries.map(([name]) => [name, 0]));
  for (let round = 0; round < msEach / 50; round++) {
    for (const [name, operation] of entries) {
      const start = performance.now();
      let now = start;
      let n = 0;
      while (now < start + 50) {
        await operation();
        n++;
        now = performance.now();
      }
      count.set(name, count.get(name)! + n);
      spent.set(name, spent.get(name)! + (now - start));
    }
  }
  return Object.fromEntries(entries.map(([name]) => [name, count.get(name)! / (spent.get(name)! / 1000)])) as Record<K, number>;
}

interface Rates {
  readonly sign: number;
  readonly verify: number;
  readonly encrypt: number;
  readonly decrypt: number;
}

/** One birth with two deliveries: 1 submission signed + verified; per delivery: encrypted, signed, verified, decrypted, receipt signed and verified. */
const perBirthMs = (r: Rates): number => 1000 * (5 / r.sign + 5 / r.verify + 2 / r.encrypt + 2 / r.decrypt);
const perBirthLabel = '  crypto time per birth (5 signs, 5 verifies, 2 JWE each way), one core';

/** The JWE `encryptPayload` / `decryptPayload` make and open, made and opened by jose instead. */
async function joseJwe(privateKey: KeyObject, publicKey: KeyObject, alg: string) {
  const header = { alg, enc: 'A256GCM', cty: 'application/json', 'elfe-delivery-id': 'd-1' };
  const encrypt = () => new CompactEncrypt(canonicalBytes(payload)).setProtectedHeader(header).encrypt(publicKey);
  const jwe = await encrypt();
  const options = { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: ['A256GCM'] };
  return { encrypt, decrypt: async () => JSON.parse(new TextDecoder().decode((await compactDecrypt(jwe, privateKey, options)).plaintext)) as unknown };
}

/** A party of a throwaway CA, with the trust (signer, verifier) it would run with. */
async function benchParty() {
  const caDir = tmpDir('bench-ca');
  const partyDir = tmpDir('bench-party');
  await pkiInit(caDir);
  await issueParty(caDir, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Bench' }, { dir: partyDir });
  const caCertificatePem = caCertificate(caDir);
  const revokedSerials = revocationSource(caDir);
  return {
    trust: certificateTrust({ dir: partyDir, caCertFile: caCertFileOf(caDir), crlFile: crlFileOf(caDir) }),
    /** A verifier without the certificates it has checked before (the CRL as the party has it). */
    fresh: () => certificateVerifier({ caCertificatePem, revokedSerials }),
    remove: () => [caDir, partyDir].forEach((dir) => rmSync(dir, { recursive: true, force: true })),
  };
}

const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

export async function cryptoProbe(): Promise<Section[]> {
  const figures: Figure[] = [];
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecSignature = sign('sha256', data, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  const jwe = await encryptPayload(payload, ec.publicKey, 'd-1');
  const jose = await joseJwe(ec.privateKey, ec.publicKey, 'ECDH-ES+A256KW');
  const party = await benchParty();
  const signature = party.trust.signer.sign(payload);
  const verified = (result: { success: boolean }) => {
    if (!result.success) throw new Error('the bench signature does not verify');
  };
  const keeper = new SignatureKeeper(createMemoryEventStore());
  const r = await rates({
    sign: () => sign('sha256', data, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }),
    verify: () => verify('sha256', data, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSignature),
    certificateVerify: () => verified(party.trust.verifier.verify(payload, signature)),
    freshVerify: () => verified(party.fresh().verify(payload, signature)),
    // Each message brings its own copy of the certificate's text.
    keep: () => keeper.keep(JSON.parse(JSON.stringify(signature)) as DetachedSignature),
    encrypt: () => encryptPayload(payload, ec.publicKey, 'd-1'),
    decrypt: () => decryptPayload(jwe, ec.privateKey, 'd-1'),
    joseEncrypt: jose.encrypt,
    joseDecrypt: jose.decrypt,
  }).finally(party.remove);
  const withJose: Rates = { ...r, encrypt: r.joseEncrypt, decrypt: r.joseDecrypt };
  figures.push(
    { key: 'crypto.ec.sign', label: 'EC P-256 (ES256, ECDH-ES+A256KW): signatures/s', value: r.sign, unit: '/s' },
    { key: 'crypto.ec.verify', label: '  verifications/s (raw ES256)', value: r.verify, unit: '/s' },
    { key: 'crypto.ec.verify.certificate', label: '  certificate verifications/s (chain once per certificate; CRL, validity, role each time)', value: r.certificateVerify, unit: '/s', limit: 'crypto.ec.verify' },
    { key: 'crypto.ec.verify.fresh', label: '  certificate verifications/s, chain checked every time (a fresh verifier each)', value: r.freshVerify, unit: '/s', limit: 'crypto.ec.verify' },
    { key: 'crypto.ec.certificateKept', label: '  signatures kept by the hub with their certificate (per submission and receipt)/s', value: r.keep, unit: '/s' },
    { key: 'crypto.ec.jwe.encrypt', label: '  JWE encryptions/s (node:crypto)', value: r.encrypt, unit: '/s' },
    { key: 'crypto.ec.jwe.decrypt', label: '  JWE decryptions/s (node:crypto)', value: r.decrypt, unit: '/s' },
    { key: 'crypto.ec.jwe.jose.encrypt', label: '  JWE encryptions/s (jose, WebCrypto)', value: r.joseEncrypt, unit: '/s', limit: 'crypto.ec.jwe.encrypt' },
    { key: 'crypto.ec.jwe.jose.decrypt', label: '  JWE decryptions/s (jose, WebCrypto)', value: r.joseDecrypt, unit: '/s', limit: 'crypto.ec.jwe.decrypt' },
    { key: 'crypto.ec.jwe.speedup', label: '  JWE, one encryption and one decryption: jose ÷ node:crypto', value: (1 / r.joseEncrypt + 1 / r.joseDecrypt) / (1 / r.encrypt + 1 / r.decrypt), unit: '×' },
    { key: 'crypto.ec.perBirth', label: perBirthLabel, value: perBirthMs(r), unit: 'ms' },
    { key: 'crypto.ec.perBirth.jose', label: '  the same with jose’s JWE', value: perBirthMs(withJose), unit: 'ms' },
  );

  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const rsaSignature = sign('sha256', data, { key: rsa.privateKey, ...pss });
  const rsaJwe = await joseJwe(rsa.privateKey, rsa.publicKey, 'RSA-OAEP-256');
  const rsaRates = await rates({
    sign: () => sign('sha256', data, { key: rsa.privateKey, ...pss }),
    verify: () => verify('sha256', data, { key: rsa.publicKey, ...pss }, rsaSignature),
    encrypt: rsaJwe.encrypt,
    decrypt: rsaJwe.decrypt,
  });
  figures.push(
    { key: 'crypto.rsa.sign', label: 'RSA-3072 (PS256, RSA-OAEP-256 with jose; the earlier stack): signatures/s', value: rsaRates.sign, unit: '/s' },
    { key: 'crypto.rsa.verify', label: '  verifications/s', value: rsaRates.verify, unit: '/s' },
    { key: 'crypto.rsa.jwe.encrypt', label: '  JWE encryptions/s', value: rsaRates.encrypt, unit: '/s' },
    { key: 'crypto.rsa.jwe.decrypt', label: '  JWE decryptions/s', value: rsaRates.decrypt, unit: '/s' },
    { key: 'crypto.rsa.perBirth', label: perBirthLabel, value: perBirthMs(rsaRates), unit: 'ms' },
    { key: 'crypto.speedup', label: 'crypto per birth: RSA stack ÷ EC stack', value: perBirthMs(rsaRates) / perBirthMs(r), unit: '×' },
  );
  return [{ name: 'Crypto per birth (raw operations, one core)', figures }];
}
