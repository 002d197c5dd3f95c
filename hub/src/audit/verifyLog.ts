// The auditor's replay: recomputes every leaf and root from the event store itself (not
// trusting the persisted tree), checks every checkpoint's signature and root, that positions
// and stream revisions are gap-free and that checkpoints only grow. It names the first bad
// position: signed roots say that something changed; the leaf hashes recorded at append time
// (authenticated by the signed root they reproduce) say where.
import { existsSync } from 'node:fs';
import {
  logEntryLeafHash,
  nodeHash,
  openCheckpoint,
  parseEvent,
  type Checkpoint,
  type Hash,
  type NoteVerifier,
} from '../../../contracts/index.ts';
import type { EventStore } from '../log/eventStore.ts';
import { TreeStore } from '../log/merkle/treeStore.ts';
import { checkpointStream } from '../log/streams.ts';
import type { SignatureAudit, SignatureAuditCode, SignatureTally } from './verifySignatures.ts';

/** Why an audit failed; tests and scripts match on this, not on the message. */
export type AuditCode =
  | 'gap'
  | 'revision-gap'
  | 'bad-checkpoint'
  | 'altered'
  | 'size-mismatch'
  /** The tree file holds leaves the log no longer has: entries were cut from the log's tail. */
  | 'tree-longer-than-log'
  /** The log is smaller than a checkpoint kept by the auditor or cosigned by a witness, and the tree file was cut with it. */
  | 'truncated'
  /** As `truncated`, with log and tree consistent with each other: both were restored from an older copy. */
  | 'rolled-back'
  /** The log has another root at a kept checkpoint's size: its history was rewritten. */
  | 'forked'
  /** A kept signature of a submission or receipt is missing or does not check (see `SignatureAuditCode`). */
  | SignatureAuditCode;

export interface AuditReport {
  readonly ok: boolean;
  /** Present when the audit failed. */
  readonly code?: AuditCode;
  readonly entries: number;
  readonly checkpoints: number;
  readonly firstBadPosition: number | null;
  readonly reason: string | null;
  /** Entries after the last checkpoint: not yet covered by a signature. */
  readonly uncovered: number;
  /** Kept signatures checked, and those of erased cases (not checkable); present when signatures were audited. */
  readonly signatures?: SignatureTally;
}

/** Complete subtrees of the leaves so far, largest first: the root of any size in O(log n). */
class Frontier {
  readonly #subtrees: { size: number; hash: Hash }[] = [];
  add(leaf: Hash): void {
    this.#subtrees.push({ size: 1, hash: leaf });
    for (let n = this.#subtrees.length; n >= 2 && this.#subtrees[n - 1]!.size === this.#subtrees[n - 2]!.size; n--) {
      const right = this.#subtrees.pop()!;
      const left = this.#subtrees.pop()!;
      this.#subtrees.push({ size: left.size * 2, hash: nodeHash(left.hash, right.hash) });
    }
  }
  root(): Hash {
    let r = this.#subtrees.at(-1)!.hash;
    for (let i = this.#subtrees.length - 2; i >= 0; i--) r = nodeHash(this.#subtrees[i]!.hash, r);
    return r;
  }
}

const same = (a: Hash, b: Hash) => Buffer.from(a).equals(Buffer.from(b));

export interface VerifyOptions {
  /** The tree file written at append time, used only to locate a change. */
  readonly treeFile?: string;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Checkpoints kept from before (by the auditor, or cosigned by witnesses), already verified:
   * the log must extend each of them.
   */
  readonly anchors?: readonly Checkpoint[];
  /** Re-checks every kept signature (CA certificate, CRL, case keys). */
  readonly signatures?: SignatureAudit;
}

export async function verifyLog(store: EventStore, verifier: NoteVerifier, options: VerifyOptions = {}): Promise<AuditReport> {
  const total = await store.size();
  // Sizes the checkpoints claim, so that the replay keeps the roots it will need.
  const claimed = new Set<number>();
  for await (const e of store.readStream(checkpointStream)) {
    const event = parseEvent(e.data);
    if (event.success && event.data.type === 'LogCheckpointSigned') claimed.add(event.data.data.treeSize);
  }
  for (const a of options.anchors ?? []) claimed.add(a.treeSize);
  const tree = options.treeFile && existsSync(options.treeFile) ? new TreeStore(options.treeFile) : undefined;
  const roots = new Map<number, Hash>();
  const frontier = new Frontier();
  const revisions = new Map<string, number>();
  let problem: { position: number; reason: string; code: AuditCode } | undefined;
  const note = (position: number, reason: string, code: AuditCode) => {
    if (!problem || position < problem.position) problem = { position, reason, code };
  };
  const treeSize = tree?.size ?? 0;
  let firstLeafMismatch: number | undefined;
  let lastGoodSize = 0;
  let checkpoints = 0;
  let lastCheckpointSize = -1;
  let expected = 0;
  try {
    for await (const e of store.readAll()) {
      if (e.position !== expected) {
        note(expected, e.position > expected ? `entry ${expected} is missing` : `entry ${e.position} appears twice or out of order`, 'gap');
        break;
      }
      const revision = revisions.get(e.stream) ?? 0;
      if (e.streamRevision !== revision) note(e.position, `stream ${e.stream} jumps from revision ${revision - 1} to ${e.streamRevision}`, 'revision-gap');
      revisions.set(e.stream, e.streamRevision + 1);
      const signatureProblem = options.signatures?.check(e);
      if (signatureProblem) note(e.position, signatureProblem.reason, signatureProblem.code);
      const leaf = logEntryLeafHash(e);
      if (firstLeafMismatch === undefined && tree && e.position < tree.size && !same(tree.node(0, e.position), leaf)) firstLeafMismatch = e.position;
      if (e.stream === checkpointStream) {
        checkpoints++;
        const event = parseEvent(e.data);
        if (!event.success || event.data.type !== 'LogCheckpointSigned') {
          note(e.position, 'a checkpoint entry is not a valid LogCheckpointSigned event', 'bad-checkpoint');
        } else {
          const opened = openCheckpoint(event.data.data.note, verifier);
          if (!opened.success) note(e.position, `checkpoint signature: ${opened.error.message}`, 'bad-checkpoint');
          else if (opened.data.treeSize !== event.data.data.treeSize || opened.data.treeSize > e.position) note(e.position, 'checkpoint claims a size it cannot cover', 'bad-checkpoint');
          else if (opened.data.treeSize <= lastCheckpointSize) note(e.position, `checkpoints shrink or repeat (${opened.data.treeSize} after ${lastCheckpointSize})`, 'bad-checkpoint');
          else {
            lastCheckpointSize = opened.data.treeSize;
            const root = roots.get(opened.data.treeSize);
            if (!root || !same(root, opened.data.rootHash)) {
              // Something before the checkpoint's size changed since it was signed. The append-time
              // leaves locate it if they still reproduce the signed root.
              const treeAuthentic = tree && tree.size >= opened.data.treeSize && same(tree.root(opened.data.treeSize), opened.data.rootHash);
              const at = treeAuthentic && firstLeafMismatch !== undefined ? firstLeafMismatch : lastGoodSize;
              note(at, `the log differs from what checkpoint ${opened.data.treeSize} signed`, 'altered');
            } else {
              lastGoodSize = opened.data.treeSize;
            }
          }
        }
      }
      frontier.add(leaf);
      expected++;
      if (claimed.has(expected)) roots.set(expected, frontier.root());
      if (options.onProgress && expected % 10000 === 0) options.onProgress(expected, total);
    }
  } finally {
    tree?.close();
  }
  if (!problem && expected !== total) note(expected, `the store reports ${total} entries but ${expected} were read`, 'size-mismatch');
  if (!problem && firstLeafMismatch !== undefined) note(firstLeafMismatch, 'the entry differs from the leaf recorded when it was appended', 'altered');
  for (const a of options.anchors ?? []) {
    if (a.treeSize > expected) {
      const code = tree && treeSize > expected ? 'truncated' : 'rolled-back';
      note(expected, `the log has ${expected} entries, fewer than the ${a.treeSize} of a kept checkpoint (${code === 'truncated' ? 'its tail was cut' : 'log and tree were rolled back together'})`, code);
    } else {
      const root = a.treeSize === 0 ? undefined : roots.get(a.treeSize);
      if (a.treeSize > 0 && (!root || !same(root, a.rootHash))) note(firstLeafMismatch ?? 0, `the log's root at size ${a.treeSize} differs from the kept checkpoint's: its history forked`, 'forked');
    }
  }
  // The tree is written after the store commits, so it may lag the log, never lead it.
  if (tree && treeSize > expected) note(expected, `the tree file has ${treeSize} leaves but the log only ${expected} entries: entries were removed from the log`, 'tree-longer-than-log');
  options.onProgress?.(expected, total);
  return {
    ok: !problem,
    ...(problem ? { code: problem.code } : {}),
    entries: expected,
    checkpoints,
    firstBadPosition: problem?.position ?? null,
    reason: problem?.reason ?? null,
    uncovered: Math.max(0, expected - (lastCheckpointSize + 1)),
    ...(options.signatures ? { signatures: { ...options.signatures.tally } } : {}),
  };
}
