// The crypto of one birth, measured: the exchange's EC P-256 stack (ES256 signatures,
// ECDH-ES+A256KW JWE) beside the RSA-3072 stack it replaced (PS256, RSA-OAEP-256), with raw
// operation rates and the cost of the operations one birth needs (two deliveries).
import { constants, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import type { Figure, Section } from '../report.ts';

const data = Buffer.from(JSON.stringify({ filler: 'x'.repeat(1500) }));

function rate(fn: () => void, ms = 700): number {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return n / (ms / 1000);
}

async function rateAsync(fn: () => Promise<unknown>, ms = 700): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n / (ms / 1000);
}

interface Stack {
  readonly name: string;
  readonly sign: (key: KeyObject) => Buffer;
  readonly verify: (key: KeyObject, sig: Buffer) => boolean;
  readonly alg: string;
  readonly keys: () => { privateKey: KeyObject; publicKey: KeyObject };
}

const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
const stacks: Stack[] = [
  { name: 'ec', alg: 'ECDH-ES+A256KW', keys: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), sign: (key) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }), verify: (key, sig) => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig) },
  { name: 'rsa', alg: 'RSA-OAEP-256', keys: () => generateKeyPairSync('rsa', { modulusLength: 3072 }), sign: (key) => sign('sha256', data, { key, ...pss }), verify: (key, sig) => verify('sha256', data, { key, ...pss }, sig) },
];

export async function cryptoProbe(): Promise<Section[]> {
  const figures: Figure[] = [];
  const perBirth: Record<string, number> = {};
  for (const stack of stacks) {
    const { privateKey, publicKey } = stack.keys();
    const signature = stack.sign(privateKey);
    const signs = rate(() => stack.sign(privateKey));
    const verifies = rate(() => stack.verify(publicKey, signature));
    const jwe = await new CompactEncrypt(data).setProtectedHeader({ alg: stack.alg, enc: 'A256GCM' }).encrypt(publicKey);
    const encrypts = await rateAsync(() => new CompactEncrypt(data).setProtectedHeader({ alg: stack.alg, enc: 'A256GCM' }).encrypt(publicKey));
    const decrypts = await rateAsync(() => compactDecrypt(jwe, privateKey));
    const label = stack.name === 'ec' ? 'EC P-256 (ES256, ECDH-ES+A256KW)' : 'RSA-3072 (PS256, RSA-OAEP-256; the earlier stack)';
    figures.push({ key: `crypto.${stack.name}.sign`, label: `${label}: signatures/s`, value: signs, unit: '/s' });
    figures.push({ key: `crypto.${stack.name}.verify`, label: '  verifications/s', value: verifies, unit: '/s' });
    figures.push({ key: `crypto.${stack.name}.jwe.encrypt`, label: '  JWE encryptions/s', value: encrypts, unit: '/s' });
    figures.push({ key: `crypto.${stack.name}.jwe.decrypt`, label: '  JWE decryptions/s', value: decrypts, unit: '/s' });
    // One birth with two deliveries: 1 submission signed + verified; per delivery: encrypted,
    // signed, verified, decrypted, receipt signed and verified.
    const ms = 1000 * (3 / signs + 3 / verifies + 2 / encrypts + 2 / decrypts + 2 / signs + 2 / verifies);
    perBirth[stack.name] = ms;
    figures.push({ key: `crypto.${stack.name}.perBirth`, label: '  crypto time per birth (5 signs, 5 verifies, 2 JWE each way), one core', value: ms, unit: 'ms' });
  }
  figures.push({ key: 'crypto.speedup', label: 'crypto per birth: RSA stack ÷ EC stack', value: perBirth.rsa! / perBirth.ec!, unit: '×' });
  return [{ name: 'Crypto per birth (raw operations, one core)', figures }];
}
