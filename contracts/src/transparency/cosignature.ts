// Witness cosignatures as in C2SP tlog-cosignature (`cosignature/v1`, Ed25519): a signed-note
// signature line whose blob is key ID (4) ‖ timestamp (8, big-endian) ‖ Ed25519 signature (64)
// over "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint body. The key ID uses the
// signature type byte 0x04, so a witness key can never be mistaken for a log key (0x01).
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CodedError, fail, ok, type Result } from '../result.ts';
import { parseCheckpointBody, rawPublicKey, type Checkpoint } from './checkpoint.ts';

const cosignatureV1Type = 0x04;
const maxTimestamp = 2n ** 63n - 1n;
/** Signed notes may carry many signatures; more than this is refused before any work. */
const maxSignatureLines = 100;

export type CosignatureErrorCode = 'malformed-key' | 'malformed-note' | 'unknown-key' | 'bad-signature' | 'future-timestamp';
export class CosignatureError extends CodedError<CosignatureErrorCode> {
  override readonly name = 'CosignatureError';
}

/** A witness (cosigner) as a verifier knows it: name, key ID and Ed25519 public key. */
export interface CosignatureVerifier {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly publicKey: KeyObject;
}

const validKeyName = (name: string) => name.length > 0 && !/[\s+]/u.test(name);

/** Key ID of a cosigner: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ Ed25519 public key)[:4]. */
export function cosignatureKeyHash(name: string, publicKey: KeyObject): Uint8Array {
  return createHash('sha256').update(name).update('\n').update(Uint8Array.of(cosignatureV1Type)).update(rawPublicKey(publicKey)).digest().subarray(0, 4);
}

/** The witness's vkey `<name>+<key ID hex>+<base64(0x04 ‖ public key)>`. */
export function witnessVerifierKey(name: string, publicKey: KeyObject): string {
  if (!validKeyName(name)) throw new TypeError('a key name is non-empty, without spaces or +');
  const hash = Buffer.from(cosignatureKeyHash(name, publicKey)).toString('hex');
  return `${name}+${hash}+${Buffer.concat([Uint8Array.of(cosignatureV1Type), rawPublicKey(publicKey)]).toString('base64')}`;
}

export function parseWitnessVerifierKey(text: string): Result<CosignatureVerifier, CosignatureError> {
  const parts = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
  if (!parts) return fail(new CosignatureError('malformed-key', 'a witness verifier key is <name>+<hash>+<key>'));
  const [, name, hashHex, keyB64] = parts as unknown as [string, string, string, string];
  const key = Buffer.from(keyB64, 'base64');
  if (key.length !== 33 || key[0] !== cosignatureV1Type || key.toString('base64') !== keyB64) {
    return fail(new CosignatureError('malformed-key', 'not a cosignature/v1 (type 0x04) Ed25519 verifier key'));
  }
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' });
  const keyHash = cosignatureKeyHash(name, publicKey);
  if (Buffer.from(keyHash).toString('hex') !== hashHex) return fail(new CosignatureError('malformed-key', 'key hash does not match the key'));
  return ok({ name, keyHash, publicKey });
}

/** The bytes a cosignature/v1 signs. */
export function cosignatureMessage(checkpointBody: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointBody}`);
}

/** One cosignature line (ending in a newline) over a checkpoint body, at `timestamp` (POSIX seconds). */
export function cosignCheckpoint(checkpointBody: string, name: string, privateKey: KeyObject, timestamp: number): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('a cosignature timestamp is a non-negative integer');
  if (!validKeyName(name)) throw new TypeError('a key name is non-empty, without spaces or +');
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(timestamp));
  const signature = sign(null, cosignatureMessage(checkpointBody, timestamp), privateKey);
  const blob = Buffer.concat([cosignatureKeyHash(name, createPublicKey(privateKey)), time, signature]);
  return `— ${name} ${blob.toString('base64')}\n`;
}

export interface SplitNote {
  /** The note text including its final newline. */
  readonly body: string;
  readonly signatures: readonly { readonly name: string; readonly blob: Buffer; readonly line: string }[];
}

/** Splits a signed note at its last blank line; undefined when it is not a signed note. */
export function splitNote(note: string): SplitNote | undefined {
  // Control characters other than newline are not allowed anywhere in a note.
  if (!note.endsWith('\n') || /[\u0000-\u0009\u000b-\u001f]/u.test(note)) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length === 0 || lines.length > maxSignatureLines) return undefined;
  const signatures: SplitNote['signatures'][number][] = [];
  for (const line of lines) {
    const m = /^— (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m || m[1]!.includes('+')) return undefined;
    signatures.push({ name: m[1]!, blob: Buffer.from(m[2]!, 'base64'), line });
  }
  return { body: note.slice(0, split + 1), signatures };
}

/** Appends signature lines (each ending in a newline) to a signed note, skipping exact duplicates. */
export function addSignatureLines(note: string, lines: string): string {
  const present = new Set(note.split('\n'));
  const extra = lines.split('\n').filter((l) => l.length > 0 && !present.has(l));
  return extra.length === 0 ? note : `${note}${extra.join('\n')}\n`;
}

export interface VerifiedCosignature {
  readonly checkpoint: Checkpoint;
  readonly witness: string;
  /** POSIX seconds at which the witness cosigned. */
  readonly timestamp: number;
}

/**
 * Finds the cosignature of `verifier` in a checkpoint note and verifies it. Lines of other keys
 * are ignored; a line of this key that fails to verify rejects the note.
 */
export function verifyCosignature(note: string, verifier: CosignatureVerifier, options: { nowSeconds?: number } = {}): Result<VerifiedCosignature, CosignatureError> {
  const split = splitNote(note);
  if (!split) return fail(new CosignatureError('malformed-note', 'a signed note is text, a blank line, signature lines'));
  const checkpoint = parseCheckpointBody(split.body);
  if (!checkpoint) return fail(new CosignatureError('malformed-note', 'not a checkpoint body (origin, size, base64 root)'));
  let found: VerifiedCosignature | undefined;
  for (const s of split.signatures) {
    if (s.name !== verifier.name || s.blob.length < 4 || !s.blob.subarray(0, 4).equals(verifier.keyHash)) continue;
    if (s.blob.length !== 4 + 8 + 64) return fail(new CosignatureError('bad-signature', `the cosignature of ${verifier.name} is not 76 bytes`));
    const timestamp = s.blob.readBigUInt64BE(4);
    if (timestamp > maxTimestamp || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return fail(new CosignatureError('bad-signature', 'cosignature timestamp out of range'));
    if (!verify(null, cosignatureMessage(split.body, Number(timestamp)), verifier.publicKey, s.blob.subarray(12))) {
      return fail(new CosignatureError('bad-signature', `the cosignature of ${verifier.name} does not verify`));
    }
    found = { checkpoint, witness: verifier.name, timestamp: Number(timestamp) };
  }
  if (!found) return fail(new CosignatureError('unknown-key', `no cosignature by ${verifier.name}`));
  if (options.nowSeconds !== undefined && found.timestamp > options.nowSeconds + 600) {
    return fail(new CosignatureError('future-timestamp', `the cosignature of ${verifier.name} is dated in the future`));
  }
  return ok(found);
}
