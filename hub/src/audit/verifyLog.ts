// The auditor's replay: recomputes every leaf and root from the event store itself (not
// trusting the persisted tree), checks every checkpoint's signature and root, that positions
// and stream revisions are gap-free and that checkpoints only grow. It names the first bad
// position: signed roots say that something changed; the leaf hashes recorded at append time
// (authenticated by the signed root they reproduce) say where.
//
// A store that keeps data and metadata as canonical text (`canonicalPages`) is replayed as
// stored: each leaf hashes the stored bytes, and JSON is parsed only where a check needs the
// event (checkpoints; every entry when signatures are audited). Other stores are read as events
// and canonicalised.
import { existsSync } from 'node:fs';
import {
  hashText,
  isCanonicalJson,
  logEntryLeafHash,
  openCheckpoint,
  parseEvent,
  storedEntryLeafHashText,
  type Checkpoint,
  type HashText,
  type NoteVerifier,
  type StoredLogEntry,
} from '../../../contracts/index.ts';
import type { CanonicalPages, EventStore, JsonValue, StoredEvent } from '../log/eventStore.ts';
import { TreeStore } from '../log/merkle/treeStore.ts';
import { ReplayTree, same } from './replayTree.ts';
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

/** What every check reads of an entry without parsing it. */
type Placed = { readonly position: number; readonly stream: string; readonly streamRevision: number };

/** What the replay reads: pages of entries, each entry's leaf, and the event when a check needs it. */
interface ReplaySource<Entry extends Placed> {
  pages(): AsyncIterable<readonly Entry[]> | Iterable<readonly Entry[]>;
  /** Throws when the entry has no canonical form. */
  leaf(entry: Entry): HashText;
  /** The entry with data and metadata parsed; throws when they do not parse. */
  event(entry: Entry): StoredEvent;
  /** The first entry in [from, to) whose stored text is not canonical: altered after it was appended. */
  firstNotCanonical?(from: number, to: number): number | undefined;
}

/** Entries read per page of the replay. */
export const replayPage = 1000;

/** Any store: events read through the port and canonicalised. */
function eventSource(store: EventStore): ReplaySource<StoredEvent> {
  return {
    async *pages() {
      const page: StoredEvent[] = [];
      for await (const e of store.readAll()) {
        page.push(e);
        if (page.length >= replayPage) yield page.splice(0);
      }
      if (page.length > 0) yield page;
    },
    leaf: (e) => hashText(logEntryLeafHash(e)),
    event: (e) => e,
  };
}

/** A store of canonical text: the stored bytes hashed as they are. */
function storedSource(reader: CanonicalPages): ReplaySource<StoredLogEntry> {
  function* range(from: number, to: number): Generator<readonly StoredLogEntry[]> {
    for (let page = reader.readCanonicalPage(from, Math.min(replayPage, to - from)); page.length > 0; ) {
      yield page;
      const next = page.at(-1)!.position + 1;
      if (next >= to) return;
      page = reader.readCanonicalPage(next, Math.min(replayPage, to - next));
    }
  }
  return {
    pages: () => range(0, Number.MAX_SAFE_INTEGER),
    leaf: storedEntryLeafHashText,
    event: ({ dataJson, metadataJson, ...entry }) => ({ ...entry, data: JSON.parse(dataJson) as JsonValue, metadata: JSON.parse(metadataJson) as JsonValue }),
    firstNotCanonical(from, to) {
      for (const page of range(from, to)) {
        const altered = page.find((e) => !isCanonicalJson(e.dataJson) || !isCanonicalJson(e.metadataJson));
        if (altered) return altered.position;
      }
      return undefined;
    },
  };
}

export async function verifyLog(store: EventStore, verifier: NoteVerifier, options: VerifyOptions = {}): Promise<AuditReport> {
  const canonical = store.canonicalPages?.();
  return canonical ? replay(store, storedSource(canonical), verifier, options) : replay(store, eventSource(store), verifier, options);
}

async function replay<Entry extends Placed>(
  store: EventStore,
  source: ReplaySource<Entry>,
  verifier: NoteVerifier,
  options: VerifyOptions,
): Promise<AuditReport> {
  const total = await store.size();
  // Sizes the checkpoints claim, so that the replay keeps the roots it will need.
  const claimed = new Set<number>();
  for await (const e of store.readStream(checkpointStream)) {
    const event = parseEvent(e.data);
    if (event.success && event.data.type === 'LogCheckpointSigned') claimed.add(event.data.data.treeSize);
  }
  for (const a of options.anchors ?? []) claimed.add(a.treeSize);
  const tree = options.treeFile && existsSync(options.treeFile) ? new TreeStore(options.treeFile) : undefined;
  const roots = new Map<number, HashText>();
  const replayed = new ReplayTree(tree);
  const revisions = new Map<string, number>();
  let problem: { position: number; reason: string; code: AuditCode } | undefined;
  let firstLeafMismatch: number | undefined;
  const note = (position: number, reason: string, code: AuditCode) => {
    if (!problem || position < problem.position) problem = { position, reason, code };
  };
  const treeSize = tree?.size ?? 0;
  // Searched once, at the first checkpoint that no longer matches, when the tree cannot say where.
  let notCanonical: { at: number | undefined } | undefined;
  let lastGoodSize = 0;
  let checkpoints = 0;
  let lastCheckpointSize = -1;
  let expected = 0;
  try {
    replaying: for await (const page of source.pages()) {
      for (const e of page) {
        if (e.position !== expected) {
          note(expected, e.position > expected ? `entry ${expected} is missing` : `entry ${e.position} appears twice or out of order`, 'gap');
          break replaying;
        }
        const revision = revisions.get(e.stream) ?? 0;
        if (e.streamRevision !== revision) note(e.position, `stream ${e.stream} jumps from revision ${revision - 1} to ${e.streamRevision}`, 'revision-gap');
        revisions.set(e.stream, e.streamRevision + 1);
        if (options.signatures) {
          const event = parsed(source, e);
          const signatureProblem = event ? options.signatures.check(event) : { code: 'altered' as const, reason: `entry ${e.position} is not stored as JSON` };
          if (signatureProblem) note(e.position, signatureProblem.reason, signatureProblem.code);
        }
        let leaf: HashText;
        try {
          leaf = source.leaf(e);
        } catch (error) {
          // The hub hashed every entry when it was appended; one that has no canonical form was changed since.
          note(e.position, `entry ${e.position} cannot be hashed: ${(error as Error).message}`, 'altered');
          leaf = unhashable;
        }
        if (e.stream === checkpointStream) {
          checkpoints++;
          const event = parseEvent(parsed(source, e)?.data);
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
              if (!root || root !== hashText(opened.data.rootHash)) {
                // Something before the checkpoint's size changed since it was signed. The append-time
                // leaves locate it if they still reproduce the signed root; else stored text that is
                // not canonical gives the entry away; else it lies after the last good checkpoint.
                const treeAuthentic = tree && tree.size >= opened.data.treeSize && same(tree.root(opened.data.treeSize), opened.data.rootHash);
                notCanonical ??= { at: treeAuthentic ? undefined : source.firstNotCanonical?.(lastGoodSize, opened.data.treeSize) };
                const at = (treeAuthentic ? replayed.firstMismatch() : undefined) ?? notCanonical.at ?? lastGoodSize;
                const what = notCanonical.at === at ? `entry ${at} is not stored as the canonical JSON the hub writes: ` : '';
                note(at, `${what}the log differs from what checkpoint ${opened.data.treeSize} signed`, 'altered');
              } else {
                lastGoodSize = opened.data.treeSize;
              }
            }
          }
        }
        replayed.add(leaf);
        expected++;
        if (claimed.has(expected)) roots.set(expected, replayed.root());
        if (options.onProgress && expected % 10000 === 0) options.onProgress(expected, total);
      }
    }
    firstLeafMismatch = replayed.firstMismatch();
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
      if (a.treeSize > 0 && (!root || root !== hashText(a.rootHash))) note(firstLeafMismatch ?? 0, `the log's root at size ${a.treeSize} differs from the kept checkpoint's: its history forked`, 'forked');
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

/** Stands in for the leaf of an entry that cannot be hashed: no real leaf equals it. */
const unhashable: HashText = '\0'.repeat(32);

/** The entry as an event, or undefined when its stored data or metadata is not JSON. */
function parsed<Entry extends Placed>(source: ReplaySource<Entry>, entry: Entry): StoredEvent | undefined {
  try {
    return source.event(entry);
  } catch {
    return undefined;
  }
}
