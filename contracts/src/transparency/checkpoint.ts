// Checkpoints in the C2SP formats, so that standard transparency-log tooling reads them:
// tlog-checkpoint (origin, tree size, base64 root hash, optional extension lines) wrapped in a
// signed note (signature lines `— <key name> base64(key hash ‖ Ed25519 signature)`).
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CodedError, fail, ok, type Result } from '../result.ts';
import type { Hash } from './merkle.ts';

export interface Checkpoint {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Hash;
  /** When the hub signed it (extension line `time <ISO 8601>`). */
  readonly time?: string;
}

export type CheckpointErrorCode = 'malformed-note' | 'malformed-key' | 'unknown-key' | 'bad-signature';
export class CheckpointError extends CodedError<CheckpointErrorCode> {
  override readonly name = 'CheckpointError';
}

const ed25519Type = 0x01;

/** The 32-byte raw Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** Signed-note key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
export function noteKeyHash(name: string, publicKey: KeyObject): Uint8Array {
  return createHash('sha256').update(name).update('\n').update(Uint8Array.of(ed25519Type)).update(rawPublicKey(publicKey)).digest().subarray(0, 4);
}

/** The verifier key string `<name>+<key hash hex>+<base64(0x01 ‖ key)>` of signed-note tooling. */
export function verifierKey(name: string, publicKey: KeyObject): string {
  const hash = Buffer.from(noteKeyHash(name, publicKey)).toString('hex');
  return `${name}+${hash}+${Buffer.concat([Uint8Array.of(ed25519Type), rawPublicKey(publicKey)]).toString('base64')}`;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly publicKey: KeyObject;
}

export function parseVerifierKey(text: string): Result<NoteVerifier, CheckpointError> {
  // The base64 key may itself contain '+', so split only at the first two.
  const parts = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
  if (!parts) return fail(new CheckpointError('malformed-key', 'a verifier key is <name>+<hash>+<key>'));
  const [, name, hashHex, keyB64] = parts as unknown as [string, string, string, string];
  const key = Buffer.from(keyB64, 'base64');
  if (!name || key.length !== 33 || key[0] !== ed25519Type) return fail(new CheckpointError('malformed-key', 'not an Ed25519 verifier key'));
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' });
  const keyHash = noteKeyHash(name, publicKey);
  if (Buffer.from(keyHash).toString('hex') !== hashHex) return fail(new CheckpointError('malformed-key', 'key hash does not match the key'));
  return ok({ name, keyHash, publicKey });
}

export function checkpointBody(c: Checkpoint): string {
  if (!c.origin || /[\n]/.test(c.origin)) throw new TypeError('origin must be one non-empty line');
  return `${c.origin}\n${c.treeSize}\n${Buffer.from(c.rootHash).toString('base64')}\n${c.time ? `time ${c.time}\n` : ''}`;
}

/** Signs a checkpoint as a signed note with the hub's Ed25519 key. */
export function signCheckpoint(c: Checkpoint, keyName: string, privateKey: KeyObject): string {
  const body = checkpointBody(c);
  const signature = sign(null, Buffer.from(body), privateKey);
  const publicKey = createPublicKey(privateKey);
  const blob = Buffer.concat([noteKeyHash(keyName, publicKey), signature]).toString('base64');
  return `${body}\n— ${keyName} ${blob}\n`;
}

/** Parses a checkpoint body (the note text, ending in a newline); undefined when it is not one. */
export function parseCheckpointBody(body: string): Checkpoint | undefined {
  const lines = body.split('\n');
  if (lines.pop() !== '') return undefined;
  const [origin, size, root, ...extensions] = lines;
  if (!origin || !size || !/^(0|[1-9]\d*)$/.test(size) || !root) return undefined;
  const treeSize = Number(size);
  const rootHash = Buffer.from(root, 'base64');
  if (!Number.isSafeInteger(treeSize) || rootHash.length !== 32 || rootHash.toString('base64') !== root) return undefined;
  const time = extensions.find((l) => l.startsWith('time '))?.slice(5);
  return { origin, treeSize, rootHash, ...(time ? { time } : {}) };
}

/** Verifies a signed checkpoint note with the given verifier and returns its content. */
export function openCheckpoint(note: string, verifier: NoteVerifier): Result<Checkpoint, CheckpointError> {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) return fail(new CheckpointError('malformed-note', 'a signed note is text, a blank line, signature lines'));
  const body = note.slice(0, split + 1);
  const checkpoint = parseCheckpointBody(body);
  if (!checkpoint) return fail(new CheckpointError('malformed-note', 'not a checkpoint body (origin, size, base64 root)'));
  const signatures = note.slice(split + 2, -1).split('\n');
  let known = false;
  for (const line of signatures) {
    const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) return fail(new CheckpointError('malformed-note', 'malformed signature line'));
    const blob = Buffer.from(m[2]!, 'base64');
    if (m[1] !== verifier.name || blob.length !== 68 || !blob.subarray(0, 4).equals(verifier.keyHash)) continue;
    known = true;
    if (verify(null, Buffer.from(body), verifier.publicKey, blob.subarray(4))) return ok(checkpoint);
  }
  return fail(known ? new CheckpointError('bad-signature', 'the signature does not verify') : new CheckpointError('unknown-key', `no signature by ${verifier.name}`));
}
