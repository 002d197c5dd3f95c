import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keySetVerifier } from '../../../contracts/index.ts';
import { createKeyPair, loadOrCreateHubKey, loadSigner, loadTrustedKeys } from './keyDirectory.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-keys-'));

describe('key directory', () => {
  it('creates key pairs whose signatures the directory verifier accepts', () => {
    const dir = tmp();
    createKeyPair(dir, { name: 'sta-11007007', dvdv: 'psw:11007007', role: 'standesamt' });
    createKeyPair(dir, { name: 'egs-04011000', dvdv: 'egs:04011000', role: 'elterngeldstelle' });
    expect(statSync(path.join(dir, 'sta-11007007.key.pem')).mode & 0o777).toBe(0o600);
    const signer = loadSigner(dir, 'sta-11007007');
    const verifier = keySetVerifier(loadTrustedKeys(dir));
    const verified = verifier.verify({ hello: 'Jürgen' }, signer.sign({ hello: 'Jürgen' }));
    expect(verified.success && verified.data).toMatchObject({ dvdv: 'psw:11007007', role: 'standesamt' });
    expect(verifier.verify({ hello: 'Jurgen' }, signer.sign({ hello: 'Jürgen' })).success).toBe(false);
  });

  it('refuses to overwrite a key pair', () => {
    const dir = tmp();
    createKeyPair(dir, { name: 'a', dvdv: 'psw:1', role: 'standesamt' });
    expect(() => createKeyPair(dir, { name: 'a', dvdv: 'psw:1', role: 'standesamt' })).toThrow();
  });

  it('creates the hub key once, mode 0600, and refuses one readable by others', () => {
    const dir = tmp();
    const first = loadOrCreateHubKey(dir);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateHubKey(dir);
    expect(again.publicKey.export({ format: 'jwk' })).toEqual(first.publicKey.export({ format: 'jwk' }));
    chmodSync(first.file, 0o644);
    expect(() => loadOrCreateHubKey(dir)).toThrow(expect.objectContaining({ code: 'insecure-permissions' }));
  });
});
