// The replicated event store: PostgreSQL through `pg` (a pool), with the SQLite store's guarantees.
//
// Table `<schema>.events`, the same columns as SQLite's:
//   position bigint PRIMARY KEY, stream, stream_revision (UNIQUE with stream), event_id UNIQUE,
//   type, data and metadata as JSON text (the bytes JSON.stringify wrote), recorded_at (ISO 8601).
//
// One sequencer, whoever appends: each append transaction takes LOCK TABLE … IN EXCLUSIVE MODE
// (readers go on), reads MAX(position) and numbers its events from there. No sequence: a
// rolled-back nextval leaves a hole. A transaction is visible before it drops its lock, so
// transactions commit, and become visible, in position order: no reader sees n+1 before n.
// Group commit: appends queued while one transaction runs go together into the next, sharing
// one WAL flush and one round trip to the synchronous standby. Each append's promise settles
// after COMMIT returned, under synchronous_commit = on (or remote_apply), set in the
// transaction itself: flushed here and, with synchronous_standby_names, on the standby.
// Live subscriptions: NOTIFY in the append transaction wakes LISTENers; a poll covers the rest.
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import {
  DuplicateEventIdError,
  StoreClosedError,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type JsonValue,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type Subscription,
} from '../eventStore.ts';

/** The lease epoch moved on: another hub is the sequencer now; this one must not append. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  readonly code = 'fenced';
  constructor(
    readonly held: number | undefined,
    readonly current: number | undefined,
  ) {
    super(`append refused: this hub holds lease epoch ${String(held)}, the log is at epoch ${String(current)} (another hub took over)`);
  }
}

/** The server would acknowledge appends it may lose (fsync or full_page_writes off), or cannot take them (a standby). */
export class PostgresNotWritableError extends Error {
  override readonly name = 'PostgresNotWritableError';
  readonly code = 'postgres-not-writable';
  constructor(reason: string) {
    super(`PostgreSQL event store refused: ${reason}`);
  }
}

/**
 * The server committed locally but stopped waiting for the synchronous standby (the wait was
 * cancelled): the append is not acknowledged. Retrying it with the same event ids is safe.
 */
export class ReplicationUnconfirmedError extends Error {
  override readonly name = 'ReplicationUnconfirmedError';
  readonly code = 'replication-unconfirmed';
  constructor(readonly serverMessage: string) {
    super(`commit not confirmed by the synchronous standby: ${serverMessage}`);
  }
}

export interface PostgresEventStoreOptions {
  /** libpq-style connection string of the primary, e.g. `postgres://elfe@db.example/elfe`. */
  readonly url: string;
  /** Schema holding the `events` table (created when missing). Default `elfe`. */
  readonly schema?: string;
  /** Pool size (one connection appends at a time; the rest read). Default 4. */
  readonly poolSize?: number;
  /** `on` (default): WAL flushed locally and on a synchronous standby; `remote_apply`: also visible there. */
  readonly synchronousCommit?: 'on' | 'remote_apply';
  /** Clock for `recordedAt` (tests pass a fixed one). */
  readonly now?: () => Date;
  /** Events per page when reading. Default 1000. */
  readonly pageSize?: number;
  /** Most appends one transaction takes from the queue. Default 500. */
  readonly maxBatch?: number;
  /** How often an idle subscription looks for new events when no notification came. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Called after each committed transaction (a metric: appends and events per commit). */
  readonly onCommit?: (appends: number, events: number) => void;
  /**
   * Fencing: the lease epoch this store's owner holds. Each append transaction reads the epoch in
   * `<schema>.lease` (row-locked, so a take-over waits for it) and stores nothing unless it is this
   * one: a hub that lost its lease (paused, cut off) cannot append after another took over.
   */
  readonly fence?: () => number | undefined;
  /** Connection trouble outside a caller's request (idle pool client, the listener). Default console.warn. */
  readonly onError?: (error: Error) => void;
}

interface Row {
  position: string;
  stream: string;
  stream_revision: string;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}

interface Pending {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

interface Follower {
  next: number;
  closed: boolean;
  wake: (() => void) | undefined;
}

interface Insert {
  position: number;
  stream: string;
  revision: number;
  event: NewEvent;
}

const toStored = (r: Row): StoredEvent => ({
  eventId: r.event_id,
  type: r.type,
  data: JSON.parse(r.data) as JsonValue,
  metadata: JSON.parse(r.metadata) as JsonValue,
  stream: r.stream,
  streamRevision: Number(r.stream_revision),
  position: Number(r.position),
  recordedAt: r.recorded_at,
});

// A server that does not answer fails the append instead of holding it forever.
const connectTimeoutMs = 10_000;
const ignore = () => undefined;
const identifier = /^[a-z_][a-z0-9_]{0,40}$/;

class PostgresEventStore implements EventStore {
  readonly #pool: pg.Pool;
  readonly #options: PostgresEventStoreOptions;
  readonly #schema: string;
  readonly #table: string;
  readonly #channel: string;
  readonly #now: () => Date;
  readonly #pageSize: number;
  readonly #followers = new Set<Follower>();
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #listener: pg.Client | undefined;
  #listening: Promise<void> | undefined;
  #closed = false;

  constructor(pool: pg.Pool, schema: string, options: PostgresEventStoreOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#schema = schema;
    this.#table = `"${schema}".events`;
    this.#channel = `elfe_events_${schema}`;
    this.#now = options.now ?? (() => new Date());
    this.#pageSize = options.pageSize ?? 1000;
  }

  async migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      const settings = await client.query<{ fsync: string; fpw: string; recovery: boolean }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('full_page_writes') AS fpw, pg_is_in_recovery() AS recovery",
      );
      const s = settings.rows[0]!;
      if (s.recovery) throw new PostgresNotWritableError('the server is a standby (in recovery); connect to the primary');
      if (s.fsync !== 'on' || s.fpw !== 'on') throw new PostgresNotWritableError(`fsync=${s.fsync}, full_page_writes=${s.fpw}: an acknowledged append could be lost`);
      await client.query('BEGIN');
      // Two hubs starting at once must not race on CREATE … IF NOT EXISTS.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('elfe-event-store-schema'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.#table} (
          position bigint PRIMARY KEY CHECK (position >= 0),
          stream text NOT NULL,
          stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
          event_id text NOT NULL UNIQUE,
          type text NOT NULL,
          data text NOT NULL,
          metadata text NOT NULL,
          recorded_at text NOT NULL,
          UNIQUE (stream, stream_revision)
        )`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  append(stream: string, events: readonly NewEvent[], expectedRevision: ExpectedRevision = 'any'): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ stream, events, expected: expectedRevision, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  /** Runs transactions until the queue is empty; only one runs at a time. */
  async #drain(): Promise<void> {
    // Let appends issued in the same turn of the event loop join the first transaction.
    await new Promise((r) => setImmediate(r));
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#options.maxBatch ?? 500);
        await this.#commit(batch);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    let outcomes: ({ ok: AppendResult } | { error: unknown })[];
    let inserts: Insert[];
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      // A connection lost mid-transaction fails the pending query (handled below); without a
      // listener its 'error' event would also end the process.
      client.on('error', ignore);
      // One round trip: the lock, then the head of the global order as it stands under the lock.
      // A writer stuck holding the lock makes appends fail after lock_timeout instead of hanging.
      const fence = this.#options.fence;
      const opened = (await client.query(
        `BEGIN; SET LOCAL synchronous_commit = ${this.#options.synchronousCommit === 'remote_apply' ? 'remote_apply' : 'on'};
         SET LOCAL lock_timeout = '10s'; LOCK TABLE ${this.#table} IN EXCLUSIVE MODE; SELECT COALESCE(MAX(position) + 1, 0) AS next FROM ${this.#table}${
           fence ? `; SELECT epoch FROM "${this.#schema}".lease WHERE id = 1 FOR SHARE` : ''
         }`,
      )) as unknown as pg.QueryResult<{ next: string; epoch?: string }>[];
      if (fence) {
        const row = opened[5]!.rows[0];
        const current = row?.epoch === undefined ? undefined : Number(row.epoch);
        const held = fence();
        if (held === undefined || current !== held) throw new FencedError(held, current);
      }
      ({ outcomes, inserts } = await this.#plan(client, batch, Number(opened[4]!.rows[0]!.next)));
      if (inserts.length > 0) {
        const recordedAt = this.#now().toISOString();
        await client.query(
          `INSERT INTO ${this.#table} (position, stream, stream_revision, event_id, type, data, metadata, recorded_at)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
          [
            inserts.map((i) => i.position),
            inserts.map((i) => i.stream),
            inserts.map((i) => i.revision),
            inserts.map((i) => i.event.eventId),
            inserts.map((i) => i.event.type),
            inserts.map((i) => JSON.stringify(i.event.data)),
            inserts.map((i) => JSON.stringify(i.event.metadata)),
            inserts.map(() => recordedAt),
          ],
        );
        await client.query('SELECT pg_notify($1, $2)', [this.#channel, String(inserts[inserts.length - 1]!.position + 1)]);
      }
      // Returns once the commit record is flushed here and (synchronous_commit) on the standby.
      // A cancelled wait for the standby still ends in a successful COMMIT, with only a WARNING
      // (in the server's language; English assumed): that must not count as acknowledged.
      let unconfirmed: string | undefined;
      const onNotice = (notice: { message?: string | undefined }) => {
        if (/synchronous replication/i.test(notice.message ?? '')) unconfirmed = notice.message;
      };
      client.on('notice', onNotice);
      try {
        await client.query('COMMIT');
      } finally {
        client.off('notice', onNotice);
      }
      if (unconfirmed !== undefined) throw new ReplicationUnconfirmedError(unconfirmed);
      client.off('error', ignore);
      client.release();
    } catch (error) {
      // Also when COMMIT itself failed: the outcome is unknown, and a retry with the same
      // event ids is answered from what was stored (idempotency), so nothing is appended twice.
      if (client) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.off('error', ignore);
        client.release(error instanceof Error ? error : true);
      }
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if ('ok' in outcome) p.resolve(outcome.ok);
      else p.reject(outcome.error);
    });
    if (inserts.length > 0) {
      this.#wakeFollowers();
      try {
        this.#options.onCommit?.(batch.length, inserts.length);
      } catch (error) {
        this.#report(error as Error);
      }
    }
  }

  /**
   * Checks every append of the batch against the table (held under the lock) and earlier appends of
   * the same batch; an append that fails stores none of its events and leaves the others alone.
   */
  async #plan(client: pg.PoolClient, batch: readonly Pending[], first: number): Promise<{ outcomes: ({ ok: AppendResult } | { error: unknown })[]; inserts: Insert[] }> {
    let next = first;
    const existing = await client.query<Row>(`SELECT * FROM ${this.#table} WHERE event_id = ANY($1::text[])`, [[...new Set(batch.flatMap((p) => p.events.map((e) => e.eventId)))]]);
    const ids = new Map(existing.rows.map((r) => [r.event_id, toStored(r)]));
    const headRows = await client.query<{ stream: string; rev: string }>(
      `SELECT stream, MAX(stream_revision) AS rev FROM ${this.#table} WHERE stream = ANY($1::text[]) GROUP BY stream`,
      [[...new Set(batch.map((p) => p.stream))]],
    );
    const heads = new Map(headRows.rows.map((r) => [r.stream, Number(r.rev)]));
    const inserts: Insert[] = [];
    const outcomes = batch.map((p) => {
      const positions: number[] = [];
      const fresh: NewEvent[] = [];
      for (const event of p.events) {
        const known = ids.get(event.eventId);
        if (known) {
          const same = known.stream === p.stream && known.type === event.type && isDeepStrictEqual(known.data, event.data) && isDeepStrictEqual(known.metadata, event.metadata);
          if (!same) return { error: new DuplicateEventIdError(event.eventId) };
          positions.push(known.position);
        } else if (fresh.some((f) => f.eventId === event.eventId)) {
          return { error: new DuplicateEventIdError(event.eventId) };
        } else {
          fresh.push(event);
          positions.push(-1);
        }
      }
      const head = heads.get(p.stream);
      if (fresh.length === 0) return { ok: { nextExpectedRevision: head ?? -1, positions } };
      const expected = p.expected;
      const violated =
        (expected === 'no-stream' && head !== undefined) ||
        (expected === 'stream-exists' && head === undefined) ||
        (typeof expected === 'number' && head !== expected);
      if (violated) return { error: new WrongExpectedRevisionError(p.stream, expected, head ?? 'no-stream') };
      let revision = head ?? -1;
      let f = 0;
      for (let i = 0; i < positions.length; i++) {
        if (positions[i] !== -1) continue;
        const event = fresh[f++]!;
        revision++;
        const position = next++;
        inserts.push({ position, stream: p.stream, revision, event });
        positions[i] = position;
        // Data and metadata are kept as given: JSON.parse(JSON.stringify(x)) is what a later read returns.
        ids.set(event.eventId, { ...event, stream: p.stream, streamRevision: revision, position, recordedAt: '' });
      }
      heads.set(p.stream, revision);
      return { ok: { nextExpectedRevision: revision, positions } };
    });
    return { outcomes, inserts };
  }

  async #rows(sql: string, params: readonly unknown[]): Promise<Row[]> {
    if (this.#closed) throw new StoreClosedError();
    return (await this.#pool.query<Row>(sql, params as unknown[])).rows;
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<StoredEvent> {
    let from = options.fromRevision ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const rows = await this.#rows(`SELECT * FROM ${this.#table} WHERE stream = $1 AND stream_revision >= $2 ORDER BY stream_revision LIMIT $3`, [stream, from, Math.min(this.#pageSize, left)]);
      for (const row of rows) yield toStored(row);
      if (rows.length === 0) return;
      left -= rows.length;
      from = Number(rows[rows.length - 1]!.stream_revision) + 1;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    let from = options.fromPosition ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const rows = await this.#page(from, Math.min(this.#pageSize, left));
      for (const row of rows) yield toStored(row);
      if (rows.length === 0) return;
      left -= rows.length;
      from = Number(rows[rows.length - 1]!.position) + 1;
    }
  }

  #page(from: number, limit: number): Promise<Row[]> {
    return this.#rows(`SELECT * FROM ${this.#table} WHERE position >= $1 ORDER BY position LIMIT $2`, [from, limit]);
  }

  subscribe(fromPosition: number): Subscription {
    const follower: Follower = { next: fromPosition, closed: false, wake: undefined };
    this.#followers.add(follower);
    const close = async () => {
      follower.closed = true;
      this.#followers.delete(follower);
      follower.wake?.();
    };
    const iterator = this.#follow(follower, close);
    return { [Symbol.asyncIterator]: () => iterator, close };
  }

  async *#follow(follower: Follower, close: () => Promise<void>): AsyncGenerator<StoredEvent> {
    try {
      while (!follower.closed && !this.#closed) {
        const rows = await this.#page(follower.next, this.#pageSize);
        if (rows.length === 0) {
          await this.#listen();
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.#options.pollIntervalMs ?? 1000);
            follower.wake = () => {
              clearTimeout(timer);
              resolve();
            };
            if (follower.closed || this.#closed) follower.wake();
          });
          follower.wake = undefined;
          continue;
        }
        for (const row of rows) {
          if (follower.closed) return;
          follower.next = Number(row.position) + 1;
          yield toStored(row);
        }
      }
    } finally {
      await close();
    }
  }

  #wakeFollowers(): void {
    for (const f of this.#followers) f.wake?.();
  }

  /** One LISTEN connection per store, opened on first need and again after it broke. */
  #listen(): Promise<void> {
    if (this.#listener || this.#closed) return Promise.resolve();
    this.#listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.#options.url, application_name: 'elfe-hub listener', connectionTimeoutMillis: connectTimeoutMs });
      const broken = (error: Error) => {
        if (this.#listener === client) this.#listener = undefined;
        void client.end().catch(() => undefined);
        if (!this.#closed) this.#report(error);
      };
      client.on('error', broken);
      client.on('notification', () => this.#wakeFollowers());
      try {
        await client.connect();
        await client.query(`LISTEN "${this.#channel}"`);
        if (this.#closed) await client.end();
        else this.#listener = client;
      } catch (error) {
        // Subscriptions still see new events, by polling; the next wait tries again.
        broken(error as Error);
      }
    })().finally(() => (this.#listening = undefined));
    return this.#listening;
  }

  #report(error: Error): void {
    (this.#options.onError ?? ((e: Error) => console.warn(`postgres event store: ${e.message}`)))(error);
  }

  async size(): Promise<number> {
    if (this.#closed) throw new StoreClosedError();
    const r = await this.#pool.query<{ next: string }>(`SELECT COALESCE(MAX(position) + 1, 0) AS next FROM ${this.#table}`);
    return Number(r.rows[0]!.next);
  }

  async getByEventId(eventId: string): Promise<StoredEvent | undefined> {
    const rows = await this.#rows(`SELECT * FROM ${this.#table} WHERE event_id = $1`, [eventId]);
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // An append that was accepted is committed (or rejected) before the pool goes.
    while (this.#flushing) await this.#flushing;
    this.#closed = true;
    this.#wakeFollowers();
    await this.#listening;
    await this.#listener?.end().catch(() => undefined);
    this.#listener = undefined;
    await this.#pool.end();
  }
}

/**
 * Opens (and on first use creates) the event store in a PostgreSQL database. Refuses a standby
 * and a server running with fsync or full_page_writes off.
 */
export async function openPostgresEventStore(options: PostgresEventStoreOptions): Promise<EventStore> {
  const schema = options.schema ?? 'elfe';
  if (!identifier.test(schema)) throw new RangeError(`schema must match ${String(identifier)}: ${schema}`);
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4, application_name: 'elfe-hub', connectionTimeoutMillis: connectTimeoutMs });
  const store = new PostgresEventStore(pool, schema, options);
  // An idle client whose server went away must not crash the process; the next query fails loudly.
  pool.on('error', (error) => (options.onError ?? ((e: Error) => console.warn(`postgres event store: ${e.message}`)))(error));
  try {
    await store.migrate();
  } catch (error) {
    await pool.end();
    throw error;
  }
  return store;
}
