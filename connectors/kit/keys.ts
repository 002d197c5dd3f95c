// The connectors' own key loading (they may not import hub code): a local key directory
// with `<name>.key.pem` (PKCS#8, mode 0600) and `<name>.pub.json` files.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ed25519Signer, keyIdOf, keySetVerifier, TrustedKeyFileSchema, type Signer, type TrustedKey, type Verifier } from '../../contracts/index.ts';

function readPublic(file: string): TrustedKey {
  const parsed = TrustedKeyFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const publicKey = createPublicKey(parsed.publicKeyPem);
  return { publicKey, identity: { keyId: keyIdOf(publicKey), dvdv: parsed.dvdv, role: parsed.role, name: parsed.name } };
}

export function loadConnectorSigner(keysDir: string, name: string): Signer {
  const keyFile = path.join(keysDir, `${name}.key.pem`);
  if ((statSync(keyFile).mode & 0o077) !== 0) throw new Error(`${keyFile}: private key is readable by group or others (chmod 600)`);
  const key: KeyObject = createPrivateKey(readFileSync(keyFile));
  const pub = readPublic(path.join(keysDir, `${name}.pub.json`));
  return ed25519Signer(key, { dvdv: pub.identity.dvdv, role: pub.identity.role, name: pub.identity.name });
}

/** A verifier that trusts only the named public key files (e.g. the hub's). */
export function loadVerifier(keysDir: string, names: readonly string[]): Verifier {
  return keySetVerifier(names.map((n) => readPublic(path.join(keysDir, `${n}.pub.json`))));
}

export function listPublicKeys(keysDir: string): string[] {
  return readdirSync(keysDir).filter((f) => f.endsWith('.pub.json')).map((f) => f.slice(0, -'.pub.json'.length));
}
