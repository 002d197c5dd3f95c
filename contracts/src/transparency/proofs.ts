// Proof documents as the hub hands them out, and their offline verification: an auditor or
// agency needs only this module and the hub's verifier key.
import { z } from 'zod';
import { CodedError, fail, ok, type Result } from '../result.ts';
import { openCheckpoint, type Checkpoint, type NoteVerifier } from './checkpoint.ts';
import { logEntryLeafHash } from './logEntry.ts';
import { verifyConsistency, verifyInclusion } from './merkle.ts';

const base64Hash = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a SHA-256 hash in base64');

export const InclusionProofSchema = z
  .object({
    kind: z.literal('elfe-inclusion-proof'),
    entry: z
      .object({
        position: z.number().int().nonnegative(),
        stream: z.string(),
        streamRevision: z.number().int().nonnegative(),
        eventId: z.string(),
        type: z.string(),
        data: z.unknown(),
        metadata: z.unknown(),
        recordedAt: z.string(),
      })
      .strict(),
    leafIndex: z.number().int().nonnegative(),
    treeSize: z.number().int().positive(),
    path: z.array(base64Hash).max(64),
    /** The signed checkpoint note the proof leads to. */
    checkpoint: z.string().min(1).max(10_000),
  })
  .strict();
export type InclusionProof = z.infer<typeof InclusionProofSchema>;

export const ConsistencyProofSchema = z
  .object({
    kind: z.literal('elfe-consistency-proof'),
    from: z.string().min(1).max(10_000),
    to: z.string().min(1).max(10_000),
    path: z.array(base64Hash).max(128),
  })
  .strict();
export type ConsistencyProof = z.infer<typeof ConsistencyProofSchema>;

export type ProofErrorCode = 'malformed-proof' | 'bad-checkpoint' | 'size-mismatch' | 'not-included' | 'not-consistent';
export class ProofError extends CodedError<ProofErrorCode> {
  override readonly name = 'ProofError';
}

const hashes = (path: readonly string[]) => path.map((h) => Buffer.from(h, 'base64'));

/** Checks an inclusion proof: a valid checkpoint signature, and the entry's leaf under its root. */
export function verifyInclusionProof(document: unknown, verifier: NoteVerifier): Result<Checkpoint, ProofError> {
  const parsed = InclusionProofSchema.safeParse(document);
  if (!parsed.success) return fail(new ProofError('malformed-proof', parsed.error.issues[0]?.message ?? 'malformed proof'));
  const proof = parsed.data;
  const checkpoint = openCheckpoint(proof.checkpoint, verifier);
  if (!checkpoint.success) return fail(new ProofError('bad-checkpoint', checkpoint.error.message));
  if (checkpoint.data.treeSize !== proof.treeSize || proof.entry.position !== proof.leafIndex) {
    return fail(new ProofError('size-mismatch', 'the proof does not match its checkpoint or entry'));
  }
  const leaf = logEntryLeafHash(proof.entry);
  if (!verifyInclusion(leaf, proof.leafIndex, proof.treeSize, hashes(proof.path), checkpoint.data.rootHash)) {
    return fail(new ProofError('not-included', 'the entry is not included under the checkpoint root'));
  }
  return ok(checkpoint.data);
}

/** Checks that the older checkpoint is a prefix of the newer one; both must be signed by the hub. */
export function verifyConsistencyProof(document: unknown, verifier: NoteVerifier): Result<{ from: Checkpoint; to: Checkpoint }, ProofError> {
  const parsed = ConsistencyProofSchema.safeParse(document);
  if (!parsed.success) return fail(new ProofError('malformed-proof', parsed.error.issues[0]?.message ?? 'malformed proof'));
  const from = openCheckpoint(parsed.data.from, verifier);
  const to = openCheckpoint(parsed.data.to, verifier);
  if (!from.success) return fail(new ProofError('bad-checkpoint', `older checkpoint: ${from.error.message}`));
  if (!to.success) return fail(new ProofError('bad-checkpoint', `newer checkpoint: ${to.error.message}`));
  if (from.data.origin !== to.data.origin) return fail(new ProofError('not-consistent', 'the checkpoints belong to different logs'));
  if (!verifyConsistency(from.data.treeSize, to.data.treeSize, hashes(parsed.data.path), from.data.rootHash, to.data.rootHash)) {
    return fail(new ProofError('not-consistent', `the tree of size ${from.data.treeSize} is not a prefix of the tree of size ${to.data.treeSize}`));
  }
  return ok({ from: from.data, to: to.data });
}
