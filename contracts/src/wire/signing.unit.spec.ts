import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519Signer, keySetVerifier } from './signing.ts';
import { deliverySubject, receiptSubject } from './subjects.ts';

function party(dvdv: string, role: 'standesamt' | 'elterngeldstelle') {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = ed25519Signer(privateKey, { dvdv, role, name: dvdv });
  return { signer, trusted: { identity: signer.identity, publicKey } };
}

describe('detached signatures over canonical bytes', () => {
  const standesamt = party('psw:11007007', 'standesamt');
  const other = party('psw:99999999', 'standesamt');
  const verifier = keySetVerifier([standesamt.trusted]);
  const value = { b: 'Müller', a: [1, 2] };

  it('verifies regardless of property order and names the signer', () => {
    const signature = standesamt.signer.sign(value);
    const result = verifier.verify({ a: [1, 2], b: 'Müller' }, signature);
    expect(result.success && result.data.dvdv).toBe('psw:11007007');
  });

  it.each([
    ['altered data', () => verifier.verify({ ...value, b: 'Muller' }, standesamt.signer.sign(value)), 'signature-invalid'],
    ['an unknown key', () => verifier.verify(value, other.signer.sign(value)), 'unknown-signer'],
    ['a key id swapped in', () => verifier.verify(value, { ...other.signer.sign(value), keyId: standesamt.signer.identity.keyId }), 'signature-invalid'],
    ['garbage', () => verifier.verify(value, { alg: 'RS256', keyId: 'x', value: '' } as never), 'signature-malformed'],
  ])('refuses %s', (_label, run, code) => {
    const result = run();
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.code).toBe(code);
  });
});

describe('subjects', () => {
  it('map a DVDV address to two subject tokens and refuse wildcard characters', () => {
    expect(deliverySubject('egs:04011000')).toBe('elfe.delivery.egs.04011000');
    expect(receiptSubject('fk:111')).toBe('elfe.receipt.fk.111');
    expect(() => deliverySubject('egs:*')).toThrow();
    expect(() => deliverySubject('egs:a.b')).toThrow();
    expect(() => deliverySubject('egs:>')).toThrow();
  });
});
