// Plain Ed25519 key pairs in a local key directory (until certificates replace them):
//   <name>.key.pem  PKCS#8 private key, mode 0600
//   <name>.pub.json {dvdv, role, name, publicKeyPem} (contracts TrustedKeyFileSchema)
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ed25519Signer, keyIdOf, TrustedKeyFileSchema, type Role, type Signer, type TrustedKey } from '../../../contracts/index.ts';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    readonly code: 'missing' | 'insecure-permissions' | 'malformed',
    message: string,
    readonly file: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface KeyIdentity {
  readonly name: string;
  readonly dvdv: string;
  readonly role: Role;
}

const fileName = (name: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new TypeError(`not a key name: ${name}`);
  return name;
};

/** Reads a private key file, refusing one that group or others may read. */
export function readPrivateKey(file: string): KeyObject {
  if (!existsSync(file)) throw new KeyFileError('missing', 'no such key file', file);
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    throw new KeyFileError('insecure-permissions', 'private key is readable by group or others (chmod 600)', file);
  }
  try {
    return createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new KeyFileError('malformed', `not a PEM private key (${(error as Error).message})`, file);
  }
}

function writePrivateKey(file: string, key: KeyObject): void {
  writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/** Creates `<name>.key.pem` and `<name>.pub.json` (refuses to overwrite). */
export function createKeyPair(keysDir: string, identity: KeyIdentity): Signer {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const name = fileName(identity.name);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writePrivateKey(path.join(keysDir, `${name}.key.pem`), privateKey);
  const pub = { dvdv: identity.dvdv, role: identity.role, name: identity.name, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  writeFileSync(path.join(keysDir, `${name}.pub.json`), `${JSON.stringify(TrustedKeyFileSchema.parse(pub), null, 2)}\n`);
  return ed25519Signer(privateKey, { dvdv: identity.dvdv, role: identity.role, name: identity.name });
}

function readPublic(file: string): TrustedKey {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new KeyFileError('malformed', 'not JSON', file);
  }
  const parsed = TrustedKeyFileSchema.safeParse(json);
  if (!parsed.success) throw new KeyFileError('malformed', parsed.error.issues[0]?.message ?? 'invalid', file);
  const publicKey = createPublicKey(parsed.data.publicKeyPem);
  return { publicKey, identity: { keyId: keyIdOf(publicKey), dvdv: parsed.data.dvdv, role: parsed.data.role, name: parsed.data.name } };
}

/** The signer of `<name>` (private key plus its public identity file). */
export function loadSigner(keysDir: string, name: string): Signer {
  const pub = readPublic(path.join(keysDir, `${fileName(name)}.pub.json`));
  const key = readPrivateKey(path.join(keysDir, `${name}.key.pem`));
  return ed25519Signer(key, { dvdv: pub.identity.dvdv, role: pub.identity.role, name: pub.identity.name });
}

/** Every `*.pub.json` of the directory: the keys a verifier trusts. */
export function loadTrustedKeys(keysDir: string): TrustedKey[] {
  if (!existsSync(keysDir)) return [];
  return readdirSync(keysDir)
    .filter((f) => f.endsWith('.pub.json'))
    .sort()
    .map((f) => readPublic(path.join(keysDir, f)));
}

/** Loads `<name>` or creates it on first use. */
export function loadOrCreateSigner(keysDir: string, identity: KeyIdentity): Signer {
  return existsSync(path.join(keysDir, `${fileName(identity.name)}.key.pem`)) ? loadSigner(keysDir, identity.name) : createKeyPair(keysDir, identity);
}

export interface HubKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly file: string;
}

/**
 * The hub's signing key (checkpoints, deliveries): `configuredFile` if given, else
 * `<dataDir>/hub.key.pem`, created with mode 0600 on first start.
 */
export function loadOrCreateHubKey(dataDir: string, configuredFile?: string): HubKey {
  const file = configuredFile ?? path.join(dataDir, 'hub.key.pem');
  if (!configuredFile && !existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writePrivateKey(file, generateKeyPairSync('ed25519').privateKey);
  }
  const privateKey = readPrivateKey(file);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new KeyFileError('malformed', 'the hub key must be Ed25519', file);
  return { privateKey, publicKey: createPublicKey(privateKey), file };
}
