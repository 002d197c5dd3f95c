// Proofs in the C2SP tlog-proof text form (`c2sp.org/tlog-proof@v1`): optional `extra` line,
// `index N`, the inclusion path one base64 hash per line, an empty line, and the checkpoint note
// verbatim (with its cosignatures). The hub puts the entry's canonical bytes (the leaf's
// preimage) into `extra`: unauthenticated in itself, it is authenticated by hashing it into
// the leaf that the inclusion path must lead to the signed root from.
import { fail, ok, type Result } from '../result.ts';
import { openCheckpoint, type Checkpoint, type NoteVerifier } from './checkpoint.ts';
import { verifyCosignature, type CosignatureVerifier } from './cosignature.ts';
import { leafHash, verifyInclusion, type Hash } from './merkle.ts';
import { ProofError } from './proofs.ts';
import { parseTreeSize } from './witnessRequest.ts';

export const tlogProofHeader = 'c2sp.org/tlog-proof@v1';
const maxPathLines = 64;

export interface TlogProof {
  readonly extra?: Uint8Array;
  readonly index: number;
  readonly path: readonly Hash[];
  readonly checkpoint: string;
}

export function formatTlogProof(proof: TlogProof): string {
  const extra = proof.extra ? `extra ${Buffer.from(proof.extra).toString('base64')}\n` : '';
  const path = proof.path.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('');
  return `${tlogProofHeader}\n${extra}index ${proof.index}\n${path}\n${proof.checkpoint}`;
}

export function parseTlogProof(text: string): Result<TlogProof, ProofError> {
  const bad = (message: string) => fail(new ProofError('malformed-proof', message));
  const lines = text.split('\n');
  let i = 0;
  if (lines[i++] !== tlogProofHeader) return bad(`the first line must be ${tlogProofHeader}`);
  let extra: Uint8Array | undefined;
  if (lines[i]?.startsWith('extra ')) {
    const b64 = lines[i++]!.slice(6);
    extra = Buffer.from(b64, 'base64');
    if (Buffer.from(extra).toString('base64') !== b64) return bad('extra is not base64');
  }
  const indexLine = lines[i++];
  const index = indexLine?.startsWith('index ') ? parseTreeSize(indexLine.slice(6)) : undefined;
  if (index === undefined) return bad('expected `index N`');
  const path: Hash[] = [];
  for (;;) {
    const line = lines[i++];
    if (line === undefined) return bad('no empty line before the checkpoint');
    if (line === '') break;
    const hash = Buffer.from(line, 'base64');
    if (hash.length !== 32 || hash.toString('base64') !== line || path.length === maxPathLines) return bad('an inclusion proof line is not one base64 SHA-256 hash');
    path.push(hash);
  }
  const checkpoint = lines.slice(i).join('\n');
  if (!checkpoint) return bad('no checkpoint');
  return ok({ ...(extra ? { extra } : {}), index, path, checkpoint });
}

export interface TlogProofVerified {
  readonly checkpoint: Checkpoint;
  /** The leaf's preimage (for the hub: the entry's canonical JSON). */
  readonly entryBytes: Uint8Array;
  /** Names of the witnesses whose cosignatures verified. */
  readonly cosignedBy: readonly string[];
}

/**
 * Verifies a tlog-proof whose `extra` carries the leaf's preimage: the log's signature, every
 * required witness's cosignature, and inclusion of SHA-256(0x00 ‖ extra) at `index`.
 */
export function verifyTlogProof(text: string, log: NoteVerifier, witnesses: readonly CosignatureVerifier[] = []): Result<TlogProofVerified, ProofError> {
  const parsed = parseTlogProof(text);
  if (!parsed.success) return parsed;
  const proof = parsed.data;
  if (!proof.extra) return fail(new ProofError('malformed-proof', 'no extra line: the entry bytes are needed to compute the leaf'));
  const opened = openCheckpoint(proof.checkpoint, log);
  if (!opened.success) return fail(new ProofError('bad-checkpoint', opened.error.message));
  const cosignedBy: string[] = [];
  for (const w of witnesses) {
    const cosigned = verifyCosignature(proof.checkpoint, w);
    if (!cosigned.success) return fail(new ProofError('bad-checkpoint', `witness ${w.name}: ${cosigned.error.message}`));
    cosignedBy.push(w.name);
  }
  if (proof.index >= opened.data.treeSize) return fail(new ProofError('size-mismatch', `index ${proof.index} is not in a tree of size ${opened.data.treeSize}`));
  if (!verifyInclusion(leafHash(proof.extra), proof.index, opened.data.treeSize, proof.path, opened.data.rootHash)) {
    return fail(new ProofError('not-included', 'the entry is not included under the checkpoint root'));
  }
  return ok({ checkpoint: opened.data, entryBytes: proof.extra, cosignedBy });
}
