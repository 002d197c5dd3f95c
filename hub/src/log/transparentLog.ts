// Tamper evidence above the store port: every stored entry becomes a leaf of an RFC 9162
// Merkle tree (persisted in its own file), and the hub signs checkpoints of the tree every
// N entries or T milliseconds. Checkpoints are `LogCheckpointSigned` events in the log itself.
// The decorator implements the port, so the rest of the hub appends through it unchanged.
import {
  consistencyPath,
  hubDerivedUuid,
  type Hash,
  inclusionPath,
  logEntryLeafHash,
  parseEvent,
  signCheckpoint,
  storedEntryLeafHash,
  verifierKey,
  type ConsistencyProof,
  type InclusionProof,
  type LogCheckpointSigned,
} from '../../../contracts/index.ts';
import type { HubKey } from '../keys/keyDirectory.ts';
import type { AppendResult, EventStore, ExpectedRevision, JsonValue, NewEvent, ReadAllOptions, ReadStreamOptions, StoredEvent, Subscription } from './eventStore.ts';
import { TreeStore } from './merkle/treeStore.ts';
import { checkpointStream } from './streams.ts';

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
}

/** Follows the log's checkpoints; `checkpointed` must not throw nor block the append path. */
export interface CheckpointObserver {
  checkpointed(record: CheckpointRecord, log: TransparentLog): void;
  /** Awaited by `close()` before the store closes. */
  close(): Promise<void>;
}

export class ProofUnavailableError extends Error {
  override readonly name = 'ProofUnavailableError';
  constructor(
    readonly code: 'unknown-entry' | 'not-checkpointed' | 'no-checkpoint' | 'bad-size',
    message: string,
  ) {
    super(message);
  }
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
    this.#tree = tree;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  static async open(store: EventStore, options: TransparentLogOptions): Promise<TransparentLog> {
    const tree = new TreeStore(options.treeFile);
    const log = new TransparentLog(store, tree, options);
    const stored = await store.size();
    // The tree is written after the store commits, so after a crash it can only lag.
    if (tree.size > stored) tree.truncate(stored);
    await log.#sync();
    log.#latest = await log.#lastCheckpoint();
    if (options.checkpoint.everyMs > 0) {
      log.#timer = setInterval(() => void log.#maybeCheckpoint(true).catch(() => undefined), options.checkpoint.everyMs);
      log.#timer.unref();
    }
    return log;
  }

  get treeSize(): number {
    return this.#tree.size;
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
        // The store keeps canonical text: hash it as stored, as the audit will.
        for (let page = pages.readCanonicalPage(this.#tree.size, 1000); page.length > 0; page = pages.readCanonicalPage(page.at(-1)!.position + 1, 1000)) {
          this.#tree.append(page.map(storedEntryLeafHash));
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
    if (this.#options.checkpoint.everyMs > 0 && this.#tree.size > (last ? last.treeSize + 1 : 0)) await this.checkpointNow().catch(() => undefined);
    this.#closed = true;
    await this.#options.observer?.close();
    await this.#syncing;
    await this.#store.close();
    this.#tree.close();
  }
}
