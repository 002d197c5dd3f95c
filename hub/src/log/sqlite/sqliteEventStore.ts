// The embedded event store: one SQLite file (better-sqlite3), WAL, synchronous=FULL.
//
// Table `events` (auditors' tamper tests edit it directly):
//   position        INTEGER PRIMARY KEY  0-based global order, gap-free
//   stream          TEXT                 stream name
//   stream_revision INTEGER              0-based revision within the stream; UNIQUE(stream, stream_revision)
//   event_id        TEXT UNIQUE          idempotency key
//   type            TEXT
//   data, metadata  TEXT                 RFC 8785 canonical JSON (the leaf hashes these texts as stored)
//   recorded_at     TEXT                 ISO 8601 UTC
//
// `PRAGMA user_version` 1 marks a store whose every row holds canonical text. A store created
// before (version 0) holds `JSON.stringify` text in its older rows: it keeps working, and its
// tree and audit take the path that parses and canonicalises every entry.
//
// Group commit: a writer thread (sqliteWriter.worker.js) owns the only writing connection and
// commits one group of appends per transaction, with its fsync off the event loop; appends that
// arrive meanwhile form the next group and share its fsync. Each append's promise settles only
// after its transaction committed, so an acknowledged append is durable. Reads use this
// thread's own connection (WAL: readers see every committed transaction).
import Database from 'better-sqlite3';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../../infra/repoRoot.ts';
import { preparePrivateDatabaseFile } from '../privateFiles.ts';
import { asStorageFull, logStorage, StorageFullError } from '../storageHealth.ts';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { canonicalJson, type StoredLogEntry } from '../../../../contracts/index.ts';
import {
  DuplicateEventIdError,
  StoreClosedError,
  WrongExpectedRevisionError,
  type AppendResult,
  type CanonicalPages,
  type EventStore,
  type ExpectedRevision,
  type JsonValue,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type Subscription,
} from '../eventStore.ts';

export { DuplicateEventIdError, StoreClosedError, StorageFullError };

export interface SqliteEventStoreOptions {
  /** Clock for `recordedAt` (tests pass a fixed one). */
  readonly now?: () => Date;
  /** Events per page when reading. */
  readonly pageSize?: number;
}

interface Row {
  position: number;
  stream: string;
  stream_revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}

interface FollowState {
  next: number;
  closed: boolean;
  wake: (() => void) | undefined;
}

/** An event to append with data and metadata already as canonical text (what the writer thread receives). */
interface SerializedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly dataJson: string;
  readonly metadataJson: string;
}

/** A stored event as the duplicate check compares it. */
interface Existing {
  readonly stream: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly position: number;
}

interface Pending {
  readonly stream: string;
  readonly events: readonly SerializedEvent[];
  readonly expected: ExpectedRevision;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

const toStored = (r: Row): StoredEvent =>
  Object.freeze({
    eventId: r.event_id,
    type: r.type,
    data: JSON.parse(r.data) as JsonValue,
    metadata: JSON.parse(r.metadata) as JsonValue,
    stream: r.stream,
    streamRevision: r.stream_revision,
    position: r.position,
    recordedAt: r.recorded_at,
  });

/** Entries decoded lately, by position: the hub's followers (read side, scheduler, relay) read the same fresh rows. */
const decodedEntries = 4096;
/** Entries this store committed lately, kept per stream as its contiguous tail up to the stream's head. */
const tailEntries = 4096;
/** Streams whose last revision the store keeps in memory (least recently touched dropped first). */
const knownHeads = 100_000;

type Outcome = { ok: AppendResult } | { error: { kind: 'duplicate'; eventId: string } | { kind: 'wrong-revision'; stream: string; expected: ExpectedRevision; actual: number | 'no-stream' } };
type WriterReply = { id: number; outcomes: Outcome[]; next: number } | { id: number; error: { message: string; code?: string }; next: number };

const writerScript = path.join(repoRoot, 'hub', 'src', 'log', 'sqlite', 'sqliteWriter.worker.js');

/** `PRAGMA user_version` of a store that holds data and metadata as RFC 8785 canonical text. */
const canonicalTextVersion = 1;

/**
 * Marks a new (empty) store as holding canonical text; tells whether the store does. Older
 * stores keep version 0: their early rows hold `JSON.stringify` text.
 */
function markCanonicalText(db: Database.Database): boolean {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= canonicalTextVersion) return true;
  if (db.prepare('SELECT 1 FROM events LIMIT 1').get() !== undefined) return false;
  db.pragma(`user_version = ${canonicalTextVersion}`);
  return true;
}

/** Same content: the canonical texts are equal; in an older store, older rows are compared by value. */
const sameJson = (stored: string, canonical: string, canonicalStore: boolean) =>
  stored === canonical || (!canonicalStore && isDeepStrictEqual(JSON.parse(stored), JSON.parse(canonical)));

type RawRow = [position: number, stream: string, streamRevision: number, eventId: string, type: string, dataJson: string, metadataJson: string, recordedAt: string];

// Rows as arrays, made into objects here: cheaper than better-sqlite3's named rows (the audit reads every entry).
const toEntry = (r: RawRow): StoredLogEntry => ({ position: r[0], stream: r[1], streamRevision: r[2], eventId: r[3], type: r[4], dataJson: r[5], metadataJson: r[6], recordedAt: r[7] });

export class SqliteEventStore implements EventStore {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #writer: Worker | undefined;
  #inFlight: Pending[] | undefined;
  #writerFailed: Error | undefined;
  readonly #now: () => Date;
  readonly #pageSize: number;
  readonly #canonicalText: boolean;
  readonly #appended = new EventEmitter();
  /**
   * Recently decoded entries (frozen), shared by every reader: each row is parsed once, not
   * once per follower. A hit needs the row's texts to be the cached ones, so a row edited in
   * the file is read as it now is.
   */
  readonly #decoded = new Map<number, { readonly row: Row; readonly stored: StoredEvent }>();
  /**
   * The last revision of streams this object appended to or read to their end (-1: read from
   * its start and found empty): a case read
   * that already holds a stream up to it needs no query. This process is the file's only
   * writer (the data directory's lock); the writer thread's commits are known once settled.
   */
  readonly #heads = new Map<string, number>();
  /**
   * The entries this store committed lately, per stream: contiguous revisions ending at the
   * stream's head (least recently appended streams dropped first, `tailEntries` in all). A
   * read of a stream whose new entries are all here asks the file nothing.
   */
  readonly #tails = new Map<string, Row[]>();
  #tailCount = 0;
  /** The same entries by position (the followers) and by event id (a receipt looks up the delivery it answers), decoded when first read. */
  readonly #committedRows = new Map<number, Row>();
  readonly #committedIds = new Map<string, Row>();
  /** When the group in the writer thread was recorded (`recorded_at` of its rows). */
  #inFlightAt = '';
  #queue: Pending[] = [];
  #flushScheduled = false;
  #closed = false;
  #next: number;
  /** Number of transactions committed (one fsync each); for the benchmark. */
  commits = 0;

  readonly #stmts;

  constructor(file: string, options: SqliteEventStoreOptions = {}) {
    if (file !== ':memory:') preparePrivateDatabaseFile(file);
    this.#file = file;
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY,
        stream TEXT NOT NULL,
        stream_revision INTEGER NOT NULL,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (stream, stream_revision)
      )`);
    this.#canonicalText = markCanonicalText(this.#db);
    this.#now = options.now ?? (() => new Date());
    this.#pageSize = options.pageSize ?? 1000;
    this.#appended.setMaxListeners(0);
    this.#stmts = {
      insert: this.#db.prepare(
        'INSERT INTO events (position, stream, stream_revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      byId: this.#db.prepare('SELECT * FROM events WHERE event_id = ?'),
      streamHead: this.#db.prepare('SELECT MAX(stream_revision) AS rev FROM events WHERE stream = ?'),
      readStream: this.#db.prepare('SELECT * FROM events WHERE stream = ? AND stream_revision >= ? ORDER BY stream_revision LIMIT ?'),
      readAll: this.#db.prepare('SELECT * FROM events WHERE position >= ? ORDER BY position LIMIT ?'),
      readEntries: this.#db.prepare('SELECT position, stream, stream_revision, event_id, type, data, metadata, recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT ?').raw(),
      size: this.#db.prepare('SELECT MAX(position) AS last FROM events'),
    };
    const last = (this.#stmts.size.get() as { last: number | null }).last;
    this.#next = last === null ? 0 : last + 1;
    if (file !== ':memory:') {
      this.#writer = new Worker(writerScript, { workerData: { file, canonicalText: this.#canonicalText } });
      this.#writer.on('message', (reply: WriterReply | { ready: true } | { closed: true }) => {
        if ('id' in reply) this.#settle(reply);
      });
      this.#writer.on('error', (error) => this.#fail(error));
      this.#writer.on('exit', (code) => {
        if (!this.#closed) this.#fail(new Error(`the SQLite writer thread exited with code ${code}`));
      });
    }
  }

  /** A broken writer thread: everything pending fails, later appends are refused. */
  #fail(error: Error): void {
    this.#writerFailed ??= error;
    // What the writer committed before it broke may never have been reported: heads unknown again.
    this.#heads.clear();
    this.#tails.clear();
    this.#tailCount = 0;
    this.#committedIds.clear();
    this.#committedRows.clear();
    for (const p of [...(this.#inFlight ?? []), ...this.#queue]) p.reject(error);
    this.#inFlight = undefined;
    this.#queue = [];
  }

  #settle(reply: WriterReply): void {
    const batch = this.#inFlight ?? [];
    this.#inFlight = undefined;
    const before = this.#next;
    this.#next = reply.next;
    if ('error' in reply) {
      // A full disk is typed (nothing of the group was committed; the same appends succeed once space is back).
      const error = this.#storageFull(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
      for (const p of batch) p.reject(error);
    } else {
      logStorage.succeeded();
      // Positions are given out in the group's order: an append's new entries lie at or past
      // where the appends before it in the group ended (an event one of them stored lies before).
      let firstNew = before;
      batch.forEach((p, i) => {
        const outcome = reply.outcomes[i]!;
        if ('ok' in outcome) firstNew = this.#committed(p, outcome.ok, firstNew, this.#inFlightAt);
        if ('ok' in outcome) this.#sawHead(p.stream, outcome.ok.nextExpectedRevision);
        if ('ok' in outcome) p.resolve(outcome.ok);
        else if (outcome.error.kind === 'duplicate') p.reject(new DuplicateEventIdError(outcome.error.eventId));
        else p.reject(new WrongExpectedRevisionError(outcome.error.stream, outcome.error.expected, outcome.error.actual));
      });
      this.commits++;
    }
    if (this.#next > before) this.#appended.emit('appended');
    if (this.#queue.length > 0) this.#flush();
  }

  append(stream: string, events: readonly NewEvent[], expectedRevision: ExpectedRevision = 'any'): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    if (this.#writerFailed) return Promise.reject(this.#writerFailed);
    let serialized: SerializedEvent[];
    try {
      // On this thread: the writer thread runs plain JavaScript and cannot load the canonicaliser.
      serialized = events.map((e) => ({ eventId: e.eventId, type: e.type, dataJson: canonicalJson(e.data), metadataJson: canonicalJson(e.metadata) }));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ stream, events: serialized, expected: expectedRevision, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#writer) {
      // One group in the writer at a time; what arrives meanwhile waits for the next one.
      if (this.#inFlight || this.#queue.length === 0) return;
      const group = this.#queue;
      this.#queue = [];
      this.#inFlight = group;
      this.#inFlightAt = this.#now().toISOString();
      this.#writer.postMessage({ id: this.commits, recordedAt: this.#inFlightAt, batch: group.map((p) => ({ stream: p.stream, events: p.events, expected: p.expected })) });
      return;
    }
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const outcomes: ({ ok: AppendResult } | { error: unknown })[] = [];
    const next = this.#next;
    try {
      const run = this.#db.transaction(() => {
        const heads = new Map<string, number>();
        const ids = new Map<string, Existing>();
        for (const pending of batch) outcomes.push(this.#plan(pending, heads, ids));
      });
      run.immediate();
      this.commits++;
    } catch (error) {
      this.#next = next;
      const failure = this.#storageFull(error);
      for (const p of batch) p.reject(failure);
      return;
    }
    batch.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if ('ok' in outcome) this.#sawHead(p.stream, outcome.ok.nextExpectedRevision);
      if ('ok' in outcome) p.resolve(outcome.ok);
      else p.reject(outcome.error);
    });
    if (this.#next > next) this.#appended.emit('appended');
  }

  /**
   * Keeps what one append committed as its readers will see it: the rows as written (decoded
   * from that canonical text when first read), by position for the followers, by event id, and
   * as the stream's tail for stream reads. Entries an idempotent append found already stored
   * (positions below `firstNew`) are not new and stay as the file holds them. Returns where the
   * next append's new entries begin.
   */
  #committed(p: Pending, result: AppendResult, firstNew: number, recordedAt: string): number {
    const fresh = result.positions.filter((position) => position >= firstNew).length;
    if (fresh === 0) return firstNew;
    let revision = result.nextExpectedRevision - fresh;
    const entries: Row[] = [];
    // The new events were inserted in the order given, one revision each.
    result.positions.forEach((position, i) => {
      if (position < firstNew) return;
      const e = p.events[i]!;
      revision++;
      const row: Row = { position, stream: p.stream, stream_revision: revision, event_id: e.eventId, type: e.type, data: e.dataJson, metadata: e.metadataJson, recorded_at: recordedAt };
      entries.push(row);
      this.#committedIds.set(row.event_id, row);
      if (this.#committedIds.size > tailEntries) this.#committedIds.delete(this.#committedIds.keys().next().value!);
      this.#committedRows.set(position, row);
      if (this.#committedRows.size > tailEntries) this.#committedRows.delete(this.#committedRows.keys().next().value!);
    });
    const tail = this.#tails.get(p.stream);
    const continues = tail !== undefined && tail.at(-1)!.stream_revision === entries[0]!.stream_revision - 1;
    this.#tails.delete(p.stream);
    this.#tailCount -= tail?.length ?? 0;
    const kept = continues ? [...tail, ...entries] : entries;
    this.#tails.set(p.stream, kept);
    this.#tailCount += kept.length;
    while (this.#tailCount > tailEntries && this.#tails.size > 1) {
      const [oldest, dropped] = this.#tails.entries().next().value!;
      this.#tails.delete(oldest);
      this.#tailCount -= dropped.length;
    }
    return entries.at(-1)!.position + 1;
  }

  /** The stream's entries from `from` on, when this store committed all of them lately and knows none after; else undefined. */
  #fromTail(stream: string, from: number): readonly Row[] | undefined {
    const head = this.#heads.get(stream);
    const tail = this.#tails.get(stream);
    if (head === undefined || tail === undefined || tail.at(-1)!.stream_revision !== head || tail[0]!.stream_revision > from) return undefined;
    return tail.slice(from - tail[0]!.stream_revision);
  }

  /** `error` as a StorageFullError when the disk of the log is full (reported once per episode). */
  #storageFull(error: unknown): unknown {
    if (this.#file === ':memory:') return error;
    const typed = asStorageFull(error, this.#file);
    logStorage.failed(typed, 'log', this.#file);
    return typed;
  }

  /** Revisions only grow: a read that raced an append never lowers what the append settled. */
  #sawHead(stream: string, revision: number): void {
    const known = this.#heads.get(stream);
    if (known !== undefined && known >= revision) return;
    this.#heads.delete(stream);
    this.#heads.set(stream, revision);
    if (this.#heads.size > knownHeads) this.#heads.delete(this.#heads.keys().next().value!);
  }

  knownHead(stream: string): number | undefined {
    return this.#heads.get(stream);
  }

  #head(stream: string, heads: Map<string, number>): number | undefined {
    if (heads.has(stream)) return heads.get(stream);
    const rev = (this.#stmts.streamHead.get(stream) as { rev: number | null }).rev;
    return rev ?? undefined;
  }

  /** Checks and inserts one append inside the group's transaction; never throws for its own failures. */
  #plan(p: Pending, heads: Map<string, number>, ids: Map<string, Existing>): { ok: AppendResult } | { error: unknown } {
    const positions: number[] = [];
    const fresh: SerializedEvent[] = [];
    for (const event of p.events) {
      const existing = ids.get(event.eventId) ?? (this.#stmts.byId.get(event.eventId) as Existing | undefined);
      if (existing) {
        const same =
          existing.stream === p.stream &&
          existing.type === event.type &&
          sameJson(existing.data, event.dataJson, this.#canonicalText) &&
          sameJson(existing.metadata, event.metadataJson, this.#canonicalText);
        if (!same) return { error: new DuplicateEventIdError(event.eventId) };
        positions.push(existing.position);
      } else if (fresh.some((f) => f.eventId === event.eventId)) {
        return { error: new DuplicateEventIdError(event.eventId) };
      } else {
        fresh.push(event);
        positions.push(-1);
      }
    }
    const head = this.#head(p.stream, heads);
    if (fresh.length === 0) {
      return { ok: { nextExpectedRevision: head ?? -1, positions } };
    }
    const expected = p.expected;
    const violated =
      (expected === 'no-stream' && head !== undefined) ||
      (expected === 'stream-exists' && head === undefined) ||
      (typeof expected === 'number' && head !== expected);
    if (violated) return { error: new WrongExpectedRevisionError(p.stream, expected, head ?? 'no-stream') };
    let revision = head ?? -1;
    const recordedAt = this.#now().toISOString();
    let f = 0;
    for (let i = 0; i < positions.length; i++) {
      if (positions[i] !== -1) continue;
      const event = fresh[f++]!;
      revision++;
      const position = this.#next++;
      this.#stmts.insert.run(position, p.stream, revision, event.eventId, event.type, event.dataJson, event.metadataJson, recordedAt);
      positions[i] = position;
      ids.set(event.eventId, { stream: p.stream, type: event.type, data: event.dataJson, metadata: event.metadataJson, position });
    }
    heads.set(p.stream, revision);
    return { ok: { nextExpectedRevision: revision, positions } };
  }

  #toStored(row: Row): StoredEvent {
    const known = this.#decoded.get(row.position);
    if (known && known.row.data === row.data && known.row.metadata === row.metadata && known.row.event_id === row.event_id && known.row.stream === row.stream && known.row.recorded_at === row.recorded_at && known.row.type === row.type && known.row.stream_revision === row.stream_revision) return known.stored;
    const stored = toStored(row);
    this.#decoded.set(row.position, { row, stored });
    if (this.#decoded.size > decodedEntries) this.#decoded.delete(this.#decoded.keys().next().value!);
    return stored;
  }

  #byId(eventId: string): StoredEvent | undefined {
    const row = this.#stmts.byId.get(eventId) as Row | undefined;
    return row ? this.#toStored(row) : undefined;
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<StoredEvent> {
    let from = options.fromRevision ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    // What this store committed lately is read as committed, without asking the file.
    const recent = this.#fromTail(stream, from);
    if (recent) {
      for (const row of recent) {
        if (left-- <= 0 || this.#closed) return;
        yield this.#toStored(row);
      }
      return;
    }
    while (left > 0 && !this.#closed) {
      const asked = Math.min(this.#pageSize, left);
      const rows = this.#stmts.readStream.all(stream, from, asked) as Row[];
      // A short page is the end: no second query only to find nothing (most reads find one new entry or none).
      if (rows.length < asked && rows.length > 0) this.#sawHead(stream, rows[rows.length - 1]!.stream_revision);
      // A stream read from its start and found empty is known to be absent (-1) until an append settles.
      else if (rows.length === 0 && from === 0) this.#sawHead(stream, -1);
      for (const row of rows) yield this.#toStored(row);
      if (rows.length < asked) return;
      left -= rows.length;
      from = rows[rows.length - 1]!.stream_revision + 1;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    let from = options.fromPosition ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (left > 0 && !this.#closed) {
      const asked = Math.min(this.#pageSize, left);
      const rows = this.#stmts.readAll.all(from, asked) as Row[];
      for (const row of rows) yield this.#toStored(row);
      if (rows.length < asked) return;
      left -= rows.length;
      from = rows[rows.length - 1]!.position + 1;
    }
  }

  canonicalPages(): CanonicalPages | undefined {
    if (!this.#canonicalText) return undefined;
    return {
      readCanonicalPage: (fromPosition, maxCount) => {
        if (this.#closed) throw new StoreClosedError();
        return (this.#stmts.readEntries.all(fromPosition, maxCount) as RawRow[]).map(toEntry);
      },
      end: () => this.#next,
    };
  }

  subscribe(fromPosition: number): Subscription {
    const state: FollowState = { next: fromPosition, closed: false, wake: undefined };
    const onAppend = () => state.wake?.();
    this.#appended.on('appended', onAppend);
    const close = async () => {
      state.closed = true;
      this.#appended.off('appended', onAppend);
      state.wake?.();
    };
    this.#appended.once('closed', () => void close());
    const iterator = this.#follow(state, close);
    return { [Symbol.asyncIterator]: () => iterator, close };
  }

  async *#follow(state: FollowState, close: () => Promise<void>): AsyncGenerator<StoredEvent> {
    try {
      while (!state.closed && !this.#closed) {
        // An entry committed (or read) lately is handed on as decoded then, without asking the file.
        const recent = state.next < this.#next ? (this.#decoded.get(state.next)?.row ?? this.#committedRows.get(state.next)) : undefined;
        if (recent) {
          state.next++;
          yield this.#toStored(recent);
          continue;
        }
        // Caught up with every settled append: wait for the next one without asking the file.
        const rows = state.next >= this.#next ? [] : (this.#stmts.readAll.all(state.next, this.#pageSize) as Row[]);
        if (rows.length === 0) {
          await new Promise<void>((resolve) => {
            state.wake = resolve;
            if (state.closed || this.#closed || this.#next > state.next) resolve();
          });
          state.wake = undefined;
          continue;
        }
        for (const row of rows) {
          if (state.closed) return;
          state.next = row.position + 1;
          yield this.#toStored(row);
        }
      }
    } finally {
      await close();
    }
  }

  async getByEventId(eventId: string): Promise<StoredEvent | undefined> {
    const row = this.#committedIds.get(eventId);
    return row ? this.#toStored(row) : this.#byId(eventId);
  }

  async size(): Promise<number> {
    return this.#next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Let queued appends commit first: an append that was accepted is not dropped.
    while ((this.#queue.length > 0 && !this.#writerFailed) || this.#flushScheduled || this.#inFlight) await new Promise((r) => setTimeout(r, 1));
    this.#closed = true;
    this.#appended.emit('closed');
    if (this.#writer) {
      const closed = new Promise<void>((resolve) => this.#writer!.once('exit', () => resolve()));
      this.#writer.postMessage({ close: true });
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
      await this.#writer.terminate();
    }
    this.#db.close();
  }
}

export function openSqliteEventStore(file: string, options?: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(file, options);
}
