// Tamper evidence above the store port: every stored entry becomes a leaf of an RFC 9162
// Merkle tree (persisted in its own file), and the hub signs checkpoints of the tree every
// N entries or T milliseconds. Checkpoints are `LogCheckpointSigned` events in the log itself.
// The decorator implements the port, so the rest of the hub appends through it unchanged.
//
// What the hub already signed, kept where cutting the log does not cut it: the latest signed
// checkpoint is also written to `checkpoint.latest` beside the log (a signed note, written to a
// temporary file, fsynced, renamed, the directory fsynced), and the witnesses' cosigned sizes
// are in `cosignatures.sqlite`. At start the hub compares the log and its tree with both; a
// shorter one stops the start (LogHistoryError). Only an operator's decision
// (`elfe hub accept-shorter-log`, a file `accept-shorter-log.json` the next start applies,
// records in the log and appends to `shorter-log-decisions.jsonl`) lets a shorter log go on.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  consistencyPath,
  hubDerivedUuid,
  type Hash,
  inclusionPath,
  logEntryLeafHash,
  openCheckpoint,
  parseEvent,
  parseVerifierKey,
  signCheckpoint,
  storedEntryLeafHash,
  verifierKey,
  type ConsistencyProof,
  type InclusionProof,
  type LogCheckpointSigned,
  CodedError,
} from '../../../contracts/index.ts';
import type { HubKey } from '../keys/keyDirectory.ts';
import type { AppendResult, EventStore, ExpectedRevision, JsonValue, NewEvent, ReadAllOptions, ReadStreamOptions, StoredEvent, Subscription } from './eventStore.ts';
import { TreeStore } from './merkle/treeStore.ts';
import { checkpointStream, securityStream } from './streams.ts';
import { securityEvent, toRecord } from './records.ts';
import type { Component } from '../../../connectors/kit/lifecycle.ts';

export type LogHistoryErrorCode = 'log-shorter-than-signed' | 'tree-longer-than-log' | 'log-differs-from-signed' | 'signed-checkpoint-unreadable' | 'acceptance-mismatch';

/** The start stops: the log (or its tree) is not a continuation of what the hub already signed. */
export class LogHistoryError extends Error {
  override readonly name = 'LogHistoryError';
  constructor(
    readonly code: LogHistoryErrorCode,
    message: string,
    readonly sizes: { readonly log: number; readonly tree: number; readonly signed?: number; readonly signedBy?: string },
    /** What the operator does about it. */
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The operator's decision that a log of `size` entries continues, though `signedSize` was signed. */
export interface ShorterLogAcceptance {
  readonly size: number;
  readonly signedSize: number;
  readonly signedBy: string;
  readonly reason: string;
  readonly operator: string;
  readonly decidedAt: string;
  /** Set when a start applied it. */
  readonly appliedAt?: string;
  readonly appliedAtPosition?: number;
}

export const historyFiles = (dataDir: string) => ({
  latest: path.join(dataDir, 'checkpoint.latest'),
  acceptance: path.join(dataDir, 'accept-shorter-log.json'),
  decisions: path.join(dataDir, 'shorter-log-decisions.jsonl'),
});

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems do not fsync directories
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replaces `file` durably: a temporary file, fsync, rename, fsync of the directory. */
export function writeFileDurably(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  fsyncDir(path.dirname(file));
}

/** Appends one line durably. */
export function appendLineDurably(file: string, line: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(path.dirname(file));
}

export const readLatestSigned = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

export function readAcceptance(file: string): ShorterLogAcceptance | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ShorterLogAcceptance>;
  if (!Number.isSafeInteger(parsed.size) || typeof parsed.reason !== 'string') throw new Error(`${file} is not an acceptance written by elfe hub accept-shorter-log`);
  return parsed as ShorterLogAcceptance;
}

export function writeAcceptance(file: string, acceptance: ShorterLogAcceptance): void {
  writeFileDurably(file, `${JSON.stringify(acceptance, null, 2)}\n`);
}

/** The decisions applied so far (oldest first). */
export function readDecisions(file: string): ShorterLogAcceptance[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as ShorterLogAcceptance);
}

/** Moves a pending acceptance into the decisions file, once applied. */
export function recordDecision(files: ReturnType<typeof historyFiles>, applied: ShorterLogAcceptance): void {
  appendLineDurably(files.decisions, JSON.stringify(applied));
  unlinkSync(files.acceptance);
  fsyncDir(path.dirname(files.acceptance));
}

export interface CheckpointPolicy {
  /** Sign a checkpoint once this many entries arrived since the last one. */
  readonly everyEntries: number;
  /** …or after this many milliseconds, if anything arrived. 0 turns the timer off. */
  readonly everyMs: number;
}

export interface TransparentLogOptions {
  readonly treeFile: string;
  readonly hubKey: HubKey;
  /** Checkpoint origin and signed-note key name, e.g. `elfe-hub/log`. */
  readonly origin: string;
  readonly checkpoint: CheckpointPolicy;
  readonly hubProducer?: { readonly dvdv: string; readonly name: string };
  readonly now?: () => Date;
  /** Told of every checkpoint signed (e.g. to obtain witness cosignatures). */
  readonly observer?: CheckpointObserver;
  /**
   * What the hub already signed, kept outside the log: every checkpoint is also written to
   * `files.latest`; at open a log or tree shorter than it (or than a witness's cosigned size)
   * stops with a LogHistoryError, unless the operator's acceptance (`files.acceptance`) names
   * the log's size, which is then recorded in the log.
   */
  readonly history?: SignedHistory;
  /** Opened to read only (an audit on a copy): no history check, no timer, a longer tree left as it is. */
  readonly inspect?: boolean;
  /** Where a failed periodic checkpoint is reported (logged, counted, unhealthy until one is signed again). */
  readonly component?: Component;
}

export interface SignedHistory {
  readonly files: ReturnType<typeof historyFiles>;
  /** The largest size each configured witness cosigned (from the cosignature store). */
  readonly witnessSizes?: readonly { readonly witness: string; readonly size: number }[];
  /** Where the decisions applied at open are reported. */
  readonly log?: (line: string) => void;
}

/** Follows the log's checkpoints; `checkpointed` must not throw nor block the append path. */
export interface CheckpointObserver {
  checkpointed(record: CheckpointRecord, log: TransparentLog): void;
  /** Awaited by `close()` before the store closes. */
  close(): Promise<void>;
}

export class ProofUnavailableError extends CodedError<'unknown-entry' | 'not-checkpointed' | 'no-checkpoint' | 'bad-size'> {
  override readonly name = 'ProofUnavailableError';
}

export interface CheckpointRecord {
  readonly treeSize: number;
  readonly note: string;
  readonly position: number;
}

function checkpointRecordOf(entry: StoredEvent): CheckpointRecord | undefined {
  const event = parseEvent(entry.data);
  return event.success && event.data.type === 'LogCheckpointSigned' ? { treeSize: event.data.data.treeSize, note: event.data.data.note, position: entry.position } : undefined;
}

export class TransparentLog implements EventStore {
  readonly #store: EventStore;
  /** The store's `knownHead`, bound once (it is asked on every stream read). */
  readonly #knownHead: ((stream: string) => number | undefined) | undefined;
  readonly #tree: TreeStore;
  readonly #options: TransparentLogOptions;
  readonly #now: () => Date;
  /**
   * Only the latest checkpoint is held; older ones are found in the checkpoint stream when a
   * proof asks for them (tree sizes grow with the stream's revisions), so neither start time
   * nor memory grows with the number of checkpoints.
   */
  #latest: { readonly record: CheckpointRecord; readonly revision: number } | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #checkpointing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(store: EventStore, tree: TreeStore, options: TransparentLogOptions) {
    this.#store = store;
    this.#knownHead = store.knownHead?.bind(store);
    this.#tree = tree;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  static async open(store: EventStore, options: TransparentLogOptions): Promise<TransparentLog> {
    const tree = new TreeStore(options.treeFile);
    const log = new TransparentLog(store, tree, options);
    try {
      const stored = await store.size();
      const history = options.inspect ? undefined : options.history;
      const acceptance = history ? readAcceptance(history.files.acceptance) : undefined;
      if (acceptance && acceptance.size !== stored) {
        throw new LogHistoryError('acceptance-mismatch', `the operator accepted a log of ${acceptance.size} entries (${history!.files.acceptance}), but the log holds ${stored}`, { log: stored, tree: tree.size, signed: acceptance.signedSize, signedBy: acceptance.signedBy }, `restore the data the decision was about, or decide again: elfe hub accept-shorter-log --size ${stored} --reason TEXT`);
      }
      // The tree is written after the store commits, so after a crash it can only lag: a longer
      // tree means the log lost entries. It is kept as evidence; only an accepted decision cuts it.
      if (tree.size > stored && !options.inspect) {
        if (!acceptance) {
          throw new LogHistoryError('tree-longer-than-log', `the log holds ${stored} entries but its Merkle tree ${tree.size}: entries were removed from the log`, { log: stored, tree: tree.size }, `restore the log from a backup; only if it cannot be restored: elfe hub accept-shorter-log --size ${stored} --reason TEXT`);
        }
        history?.log?.(`log: the operator's decision cuts the tree from ${tree.size} to ${stored} leaves`);
        tree.truncate(stored);
      }
      if (tree.size <= stored) await log.#sync();
      log.#latest = await log.#lastCheckpoint();
      if (history) await log.#checkHistory(history, stored, acceptance);
    } catch (error) {
      tree.close();
      throw error;
    }
    if (options.checkpoint.everyMs > 0 && !options.inspect) {
      // A failed checkpoint is reported (logged, counted, unhealthy) and tried again at the next tick.
      const tick = async () => {
        options.component?.checkFault();
        await log.#maybeCheckpoint(true);
      };
      log.#timer = setInterval(() => void tick().then(() => options.component?.succeeded(), (error: unknown) => options.component?.failed(error)), options.checkpoint.everyMs);
      log.#timer.unref();
    }
    return log;
  }

  get treeSize(): number {
    return this.#tree.size;
  }

  /** The size the hub signed last, kept outside the log (checkpoint.latest); checkpoints never go below it. */
  #signedFloor = 0;

  /**
   * Compares the log with what the hub already signed (checkpoint.latest, the witnesses'
   * cosigned sizes): shorter, or another root at the signed size, stops the open unless the
   * operator accepted exactly this log; the acceptance is then recorded in the log and signed.
   */
  async #checkHistory(history: SignedHistory, stored: number, acceptance: ShorterLogAcceptance | undefined): Promise<void> {
    const files = history.files;
    const note = readLatestSigned(files.latest);
    let signed: { size: number; by: string; root?: Uint8Array } | undefined;
    if (note !== undefined) {
      const verifier = parseVerifierKey(this.verifierKey);
      const opened = verifier.success ? openCheckpoint(note, verifier.data) : undefined;
      if (!opened?.success) {
        throw new LogHistoryError('signed-checkpoint-unreadable', `${files.latest} is not a checkpoint signed by this hub's key (${opened && !opened.success ? opened.error.message : 'no verifier'})`, { log: stored, tree: this.#tree.size }, 'restore checkpoint.latest from a backup, or start with the hub key that signed it');
      }
      signed = { size: opened.data.treeSize, by: files.latest, root: opened.data.rootHash };
    }
    const fileSize = signed?.size ?? 0;
    // Witness sizes an earlier decision already overrode do not count again.
    const floor = Math.max(0, ...readDecisions(files.decisions).map((d) => d.signedSize));
    for (const w of history.witnessSizes ?? []) {
      if (w.size > floor && w.size > (signed?.size ?? 0)) signed = { size: w.size, by: `witness ${w.witness}` };
    }
    const sizes = { log: stored, tree: this.#tree.size, ...(signed ? { signed: signed.size, signedBy: signed.by } : {}) };
    let problem: LogHistoryError | undefined;
    if (signed && stored < signed.size) {
      problem = new LogHistoryError(
        'log-shorter-than-signed',
        `the log holds ${stored} entries (tree ${this.#tree.size}), but the hub already signed a checkpoint of ${signed.size} (${signed.by}): signing on would fork the log`,
        sizes,
        `restore the log and its tree from a backup that holds at least ${signed.size} entries; only if that is impossible: elfe hub accept-shorter-log --size ${stored} --reason TEXT`,
      );
    } else if (signed?.root && signed.size > 0 && !Buffer.from(this.#tree.root(signed.size)).equals(Buffer.from(signed.root))) {
      problem = new LogHistoryError('log-differs-from-signed', `the log's first ${signed.size} entries are not those the hub signed (${signed.by}): the log was rewritten`, sizes, `restore the log from a backup; only if that is impossible: elfe hub accept-shorter-log --size ${stored} --reason TEXT`);
    }
    if (problem && !acceptance) throw problem;
    if (acceptance) {
      await this.#applyAcceptance(history, acceptance, signed);
      return;
    }
    this.#signedFloor = signed?.size ?? 0;
    // checkpoint.latest lags the log after a crash between the append and the file (or is new): catch up.
    const latest = this.#latest?.record;
    if (latest && latest.treeSize > fileSize) writeFileDurably(files.latest, latest.note);
  }

  /** Records the operator's decision in the log, moves it to the decisions file and signs the log as it now is. */
  async #applyAcceptance(history: SignedHistory, acceptance: ShorterLogAcceptance, signed: { size: number; by: string } | undefined): Promise<void> {
    const now = this.#now();
    const reason = `the operator ${acceptance.operator} accepted a log of ${acceptance.size} entries although ${signed ? `a checkpoint of ${signed.size} was signed (${signed.by})` : `${acceptance.signedSize} were signed`}, decided ${acceptance.decidedAt}: ${acceptance.reason}`;
    const event = { ...securityEvent(now, { code: 'shorter-log-accepted', reason: reason.slice(0, 500), subject: { name: acceptance.operator.slice(0, 200), role: 'operator' } }), purpose: 'Operator decision: the log continues from a shorter history' };
    const result = await this.#store.append(securityStream, [toRecord(event, { acceptance: { ...acceptance } as unknown as JsonValue })]);
    await this.#sync();
    recordDecision(history.files, { ...acceptance, signedSize: Math.max(acceptance.signedSize, signed?.size ?? 0), appliedAt: now.toISOString(), appliedAtPosition: result.positions[0]! });
    history.log?.(`log: applied the operator's decision to continue from a log of ${acceptance.size} entries (signed before: ${signed?.size ?? acceptance.signedSize}); recorded at position ${result.positions[0]}`);
    this.#signedFloor = 0;
    await this.checkpointNow();
  }

  /** Leaves hashed by this process; a restart that reads the frontier hashes only new ones. */
  get leavesHashed(): number {
    return this.#tree.leavesAdded;
  }

  get verifierKey(): string {
    return verifierKey(this.#options.origin, this.#options.hubKey.publicKey);
  }

  async append(stream: string, events: readonly NewEvent[], expectedRevision?: ExpectedRevision): Promise<AppendResult> {
    const result = await this.#store.append(stream, events, expectedRevision);
    await this.#sync();
    await this.#maybeCheckpoint(false);
    return result;
  }

  /** Adds the leaves of everything the store holds beyond the tree (one catch-up at a time). */
  #sync(): Promise<void> {
    const run = this.#syncing.then(async () => {
      const pages = this.#store.canonicalPages?.();
      if (pages) {
        // The store keeps canonical text: hash it as stored, as the audit will. Nothing is
        // read when the tree already covers the store (the appends of one group commit each
        // come here, the first one takes them all); a short page is the end.
        if (pages.end !== undefined && pages.end() <= this.#tree.size) return;
        for (let page = pages.readCanonicalPage(this.#tree.size, 1000); page.length > 0; page = pages.readCanonicalPage(page.at(-1)!.position + 1, 1000)) {
          this.#tree.append(page.map(storedEntryLeafHash));
          if (page.length < 1000) break;
        }
        return;
      }
      const batch: Uint8Array[] = [];
      for await (const e of this.#store.readAll({ fromPosition: this.#tree.size })) {
        batch.push(logEntryLeafHash(e));
        if (batch.length >= 1000) this.#tree.append(batch.splice(0));
      }
      this.#tree.append(batch);
    });
    this.#syncing = run.catch(() => undefined);
    return run;
  }

  #maybeCheckpoint(timer: boolean): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#checkpointing) return this.#checkpointing;
    const last = this.#latest?.record;
    // Entries since the last checkpoint, not counting that checkpoint's own entry.
    const fresh = this.#tree.size - (last ? last.treeSize + 1 : 0);
    const due = timer ? fresh > 0 : fresh >= this.#options.checkpoint.everyEntries;
    if (!due) return Promise.resolve();
    this.#checkpointing = this.checkpointNow().then(
      () => undefined,
      () => undefined,
    );
    return this.#checkpointing.finally(() => (this.#checkpointing = undefined));
  }

  /** Signs a checkpoint of the current tree and records it in the log. */
  async checkpointNow(): Promise<CheckpointRecord> {
    await this.#sync();
    const treeSize = this.#tree.size;
    // Tree sizes only grow: a checkpoint of this size can only be the latest.
    if (this.#latest?.record.treeSize === treeSize) return this.#latest.record;
    if (treeSize < this.#signedFloor) throw new LogHistoryError('log-shorter-than-signed', `the tree holds ${treeSize} leaves, but the hub already signed ${this.#signedFloor}: not signing a shorter log`, { log: treeSize, tree: treeSize, signed: this.#signedFloor }, 'stop the hub and restore the log');
    const time = this.#now().toISOString();
    const note = signCheckpoint({ origin: this.#options.origin, treeSize, rootHash: this.#tree.root(treeSize), time }, this.#options.origin, this.#options.hubKey.privateKey);
    const messageId = hubDerivedUuid('checkpoint', this.#options.origin, String(treeSize));
    const producer = this.#options.hubProducer ?? { dvdv: 'hub:elfe', name: 'elfe-hub' };
    const event: LogCheckpointSigned = {
      messageId,
      type: 'LogCheckpointSigned',
      schemaVersion: 1,
      occurredAt: time,
      producer: { ...producer, role: 'hub' } as LogCheckpointSigned['producer'],
      legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
      purpose: 'Integrity of the exchange log: signed Merkle checkpoint',
      correlationId: messageId,
      data: {
        origin: this.#options.origin,
        treeSize,
        rootHash: Buffer.from(this.#tree.root(treeSize)).toString('base64'),
        note,
        keyId: this.verifierKey,
      },
    };
    const result = await this.#store.append(checkpointStream, [{ eventId: messageId, type: event.type, data: event as unknown as JsonValue, metadata: {} }]);
    const record = { treeSize, note, position: result.positions[0]! };
    this.#latest = { record, revision: result.nextExpectedRevision };
    // Beside the log, so that cutting the log does not cut what the hub signed (before any witness or proof sees it).
    if (this.#options.history && !this.#options.inspect) {
      writeFileDurably(this.#options.history.files.latest, note);
      this.#signedFloor = treeSize;
    }
    await this.#sync();
    this.#options.observer?.checkpointed(record, this);
    return record;
  }

  /** Every checkpoint in the log, oldest first (read from the checkpoint stream; for tools and tests). */
  async checkpoints(): Promise<CheckpointRecord[]> {
    const records: CheckpointRecord[] = [];
    for await (const e of this.#store.readStream(checkpointStream)) {
      const record = checkpointRecordOf(e);
      if (record) records.push(record);
    }
    return records;
  }

  latestCheckpoint(): CheckpointRecord | undefined {
    return this.#latest?.record;
  }

  async #checkpointAtRevision(revision: number): Promise<{ entry: StoredEvent; record: CheckpointRecord | undefined } | undefined> {
    for await (const entry of this.#store.readStream(checkpointStream, { fromRevision: revision, maxCount: 1 })) return { entry, record: checkpointRecordOf(entry) };
    return undefined;
  }

  /** The checkpoint stream's last checkpoint: its last revision found by doubling, then halving. */
  async #lastCheckpoint(): Promise<{ record: CheckpointRecord; revision: number } | undefined> {
    if (!(await this.#checkpointAtRevision(0))) return undefined;
    let present = 0;
    let absent = 1;
    while (await this.#checkpointAtRevision(absent)) [present, absent] = [absent, absent * 2];
    while (absent - present > 1) {
      const middle = present + Math.floor((absent - present) / 2);
      if (await this.#checkpointAtRevision(middle)) present = middle;
      else absent = middle;
    }
    // The stream holds only checkpoints; should its last entry not read as one, take the one before.
    for (let revision = present; revision >= 0; revision--) {
      const found = await this.#checkpointAtRevision(revision);
      if (found?.record) return { record: found.record, revision };
    }
    return undefined;
  }

  /** The checkpoint of exactly `treeSize`, by bisecting the checkpoint stream (tree sizes grow with its revisions). */
  async #checkpointOf(treeSize: number): Promise<CheckpointRecord | undefined> {
    const latest = this.#latest;
    if (!latest || treeSize > latest.record.treeSize) return undefined;
    if (treeSize === latest.record.treeSize) return latest.record;
    let low = 0;
    let high = latest.revision;
    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      const size = (await this.#checkpointAtRevision(middle))?.record?.treeSize;
      // An entry that is no checkpoint is stepped over.
      if (size === undefined || size < treeSize) low = middle + 1;
      else high = middle;
    }
    const found = (await this.#checkpointAtRevision(low))?.record;
    return found?.treeSize === treeSize ? found : undefined;
  }

  /** Inclusion proof of the entry at `position` against the checkpoint of `treeSize` (default: latest). */
  async inclusionProof(position: number, treeSize?: number): Promise<InclusionProof> {
    const checkpoint = treeSize === undefined ? this.latestCheckpoint() : await this.#checkpointOf(treeSize);
    if (!checkpoint) throw new ProofUnavailableError('no-checkpoint', treeSize === undefined ? 'the log has no checkpoint yet' : `no checkpoint of size ${treeSize}`);
    if (position >= checkpoint.treeSize) throw new ProofUnavailableError('not-checkpointed', `entry ${position} is newer than the checkpoint of size ${checkpoint.treeSize}`);
    const entry = (await this.#store.readAll({ fromPosition: position, maxCount: 1 })[Symbol.asyncIterator]().next()).value as StoredEvent | undefined;
    if (!entry) throw new ProofUnavailableError('unknown-entry', `no entry at position ${position}`);
    const { eventId, type, data, metadata, stream, streamRevision, recordedAt } = entry;
    return {
      kind: 'elfe-inclusion-proof',
      entry: { position, stream, streamRevision, eventId, type, data, metadata, recordedAt },
      leafIndex: position,
      treeSize: checkpoint.treeSize,
      path: inclusionPath(position, checkpoint.treeSize, this.#tree.hashRange).map((h) => Buffer.from(h).toString('base64')),
      checkpoint: checkpoint.note,
    };
  }

  /** Consistency proof between two checkpoints (default `to`: the latest). */
  async consistencyProof(fromSize: number, toSize?: number): Promise<ConsistencyProof> {
    const from = await this.#checkpointOf(fromSize);
    const to = toSize === undefined ? this.latestCheckpoint() : await this.#checkpointOf(toSize);
    if (!from || !to) throw new ProofUnavailableError('no-checkpoint', `no checkpoint of size ${!from ? fromSize : toSize}`);
    if (from.treeSize > to.treeSize) throw new ProofUnavailableError('bad-size', 'the older checkpoint must not be larger');
    return { kind: 'elfe-consistency-proof', from: from.note, to: to.note, path: consistencyPath(from.treeSize, to.treeSize, this.#tree.hashRange).map((h) => Buffer.from(h).toString('base64')) };
  }

  /** A stored complete subtree hash (level, index): what C2SP tlog-tiles serve. */
  treeNode(level: number, index: number): Hash {
    return this.#tree.node(level, index);
  }

  /** RFC 9162 consistency path between tree sizes `from` ≤ `to` (both at most the tree's size). */
  consistencyPath(from: number, to: number): Hash[] {
    return consistencyPath(from, to, this.#tree.hashRange);
  }

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent> {
    return this.#store.readStream(stream, options);
  }

  /** The store's, when it knows its streams' heads (a store with no other writer); absent otherwise. */
  get knownHead(): ((stream: string) => number | undefined) | undefined {
    return this.#knownHead;
  }

  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent> {
    return this.#store.readAll(options);
  }

  subscribe(fromPosition: number): Subscription {
    return this.#store.subscribe(fromPosition);
  }

  size(): Promise<number> {
    return this.#store.size();
  }

  getByEventId(eventId: string): Promise<StoredEvent | undefined> {
    return this.#store.getByEventId(eventId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    await this.#checkpointing;
    // A clean shutdown leaves every entry under a signed checkpoint.
    const last = this.#latest?.record;
    if (this.#options.checkpoint.everyMs > 0 && this.#tree.size > (last ? last.treeSize + 1 : 0)) await this.checkpointNow().catch((error: unknown) => this.#options.component?.failed(error, { at: 'close' }));
    this.#closed = true;
    await this.#options.observer?.close();
    await this.#syncing;
    await this.#store.close();
    this.#tree.close();
  }
}
