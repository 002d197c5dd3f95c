// The witness's own Ed25519 key: a PEM PKCS#8 private key preceded by one line naming the
// witness (`witness-name <name>`), mode 0600, so that `elfe witness start --key FILE` needs
// nothing else to sign as that witness.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { CodedError, witnessVerifierKey } from '../../../contracts/index.ts';

export interface WitnessKey {
  readonly name: string;
  readonly privateKey: KeyObject;
  /** `<name>+<key ID>+<base64(0x04 ‖ key)>`: what logs and auditors configure. */
  readonly verifierKey: string;
}

export class WitnessKeyError extends CodedError<'missing' | 'exists' | 'insecure-permissions' | 'malformed' | 'bad-name'> {
  override readonly name = 'WitnessKeyError';
}

const validName = (name: string) => /^[\x21-\x2a\x2c-\x7e]{1,200}$/.test(name);

export function createWitnessKey(file: string, name: string): WitnessKey {
  if (!validName(name)) throw new WitnessKeyError('bad-name', 'a witness name is printable ASCII without spaces or +, e.g. witness.example/w1');
  if (existsSync(file)) throw new WitnessKeyError('exists', `${file} exists; a witness key is never overwritten`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(file, `witness-name ${name}\n${pem}`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { name, privateKey, verifierKey: witnessVerifierKey(name, createPublicKey(privateKey)) };
}

export function readWitnessKey(file: string): WitnessKey {
  if (!existsSync(file)) throw new WitnessKeyError('missing', `${file}: no such key file`);
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    throw new WitnessKeyError('insecure-permissions', `${file}: private key is readable by group or others (chmod 600)`);
  }
  const text = readFileSync(file, 'utf8');
  const m = /^witness-name (\S+)\n(-----BEGIN PRIVATE KEY-----\n[\s\S]+?\n-----END PRIVATE KEY-----\n?)$/.exec(text);
  if (!m || !validName(m[1]!)) throw new WitnessKeyError('malformed', `${file}: not a witness key (witness-name line, PEM private key)`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(m[2]!);
  } catch (error) {
    throw new WitnessKeyError('malformed', `${file}: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new WitnessKeyError('malformed', `${file}: not an Ed25519 key`);
  return { name: m[1]!, privateKey, verifierKey: witnessVerifierKey(m[1]!, createPublicKey(privateKey)) };
}
