// The distributed backend: KurrentDB / EventStoreDB through @kurrent/kurrentdb-client.
//
// KurrentDB's own $all positions are commit positions with gaps; the port promises a
// gap-free global order. The hub is the single sequencer (one process appends), so this
// adapter numbers its events itself: each event's metadata carries `elfe.position` (and the
// recorded-at time and the caller's metadata). On open it scans $all once to rebuild the
// event-id index (idempotency) and a sparse position → commit-position index (every
// 1000th event) so that reads from a position start close to it.
import {
  ANY,
  excludeSystemEvents,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type Position,
} from '@kurrent/kurrentdb-client';
import { canonicalHash } from '../../../../contracts/index.ts';
import {
  DuplicateEventIdError,
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

interface ElfeMetadata {
  elfe: { position: number; recordedAt: string; metadata: JsonValue };
}

const isElfe = (m: unknown): m is ElfeMetadata =>
  typeof m === 'object' && m !== null && 'elfe' in m && typeof (m as ElfeMetadata).elfe?.position === 'number';

const sparseEvery = 1000;

function toStored(resolved: AllStreamResolvedEvent | { event?: unknown }): StoredEvent | undefined {
  const e = resolved.event as { streamId: string; id: string; revision: bigint; type: string; data: unknown; metadata: unknown } | undefined;
  if (!e || !isElfe(e.metadata)) return undefined;
  return {
    eventId: e.id,
    type: e.type,
    data: e.data as JsonValue,
    metadata: e.metadata.elfe.metadata,
    stream: e.streamId,
    streamRevision: Number(e.revision),
    position: e.metadata.elfe.position,
    recordedAt: e.metadata.elfe.recordedAt,
  };
}

const contentHash = (stream: string, e: NewEvent) => canonicalHash({ stream, type: e.type, data: e.data, metadata: e.metadata });

export class KurrentEventStore implements EventStore {
  readonly #client: KurrentDBClient;
  readonly #now: () => Date;
  readonly #ids = new Map<string, { position: number; hash: string }>();
  readonly #sparse = new Map<number, Position>();
  #next = 0;
  #sequencer: Promise<unknown> = Promise.resolve();

  private constructor(client: KurrentDBClient, now: () => Date) {
    this.#client = client;
    this.#now = now;
  }

  static async open(connectionString: string, options: { now?: () => Date } = {}): Promise<KurrentEventStore> {
    const store = new KurrentEventStore(KurrentDBClient.connectionString(connectionString), options.now ?? (() => new Date()));
    for await (const resolved of store.#client.readAll({ filter: excludeSystemEvents() })) {
      const e = toStored(resolved);
      if (!e) continue;
      store.#remember(e, resolved.event?.position);
    }
    return store;
  }

  #remember(e: StoredEvent, at: Position | undefined): void {
    this.#ids.set(e.eventId, { position: e.position, hash: contentHash(e.stream, e) });
    if (at && e.position % sparseEvery === 0) this.#sparse.set(e.position, at);
    this.#next = Math.max(this.#next, e.position + 1);
  }

  append(stream: string, events: readonly NewEvent[], expectedRevision: ExpectedRevision = 'any'): Promise<AppendResult> {
    // One append at a time: positions are assigned in commit order.
    const run = this.#sequencer.then(() => this.#append(stream, events, expectedRevision));
    this.#sequencer = run.catch(() => undefined);
    return run;
  }

  async #append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const positions: number[] = [];
    const fresh: NewEvent[] = [];
    for (const e of events) {
      const known = this.#ids.get(e.eventId);
      if (known) {
        if (known.hash !== contentHash(stream, e)) throw new DuplicateEventIdError(e.eventId);
        positions.push(known.position);
      } else {
        if (fresh.some((f) => f.eventId === e.eventId)) throw new DuplicateEventIdError(e.eventId);
        positions.push(-1);
        fresh.push(e);
      }
    }
    if (fresh.length === 0) {
      let head = -1;
      for await (const e of this.readStream(stream)) head = e.streamRevision;
      return { nextExpectedRevision: head, positions };
    }
    const recordedAt = this.#now().toISOString();
    const first = this.#next;
    const state: AppendStreamState = expected === 'any' ? ANY : expected === 'no-stream' ? NO_STREAM : expected === 'stream-exists' ? STREAM_EXISTS : BigInt(expected);
    let result;
    try {
      result = await this.#client.appendToStream(
        stream,
        fresh.map((e, i) =>
          jsonEvent({ id: e.eventId, type: e.type, data: e.data as Record<string, unknown>, metadata: { elfe: { position: first + i, recordedAt, metadata: e.metadata } } }),
        ),
        { streamState: state },
      );
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = typeof error.actualState === 'bigint' ? Number(error.actualState) : 'no-stream';
        throw new WrongExpectedRevisionError(stream, expected, actual);
      }
      throw error;
    }
    this.#next += fresh.length;
    const firstRevision = Number(result.nextExpectedRevision) - fresh.length + 1;
    let f = 0;
    for (let i = 0; i < positions.length; i++) {
      if (positions[i] !== -1) continue;
      const e = fresh[f]!;
      positions[i] = first + f;
      this.#remember({ ...e, stream, streamRevision: firstRevision + f, position: first + f, recordedAt }, f === 0 && (first + f) % sparseEvery === 0 ? result.position : undefined);
      f++;
    }
    return { nextExpectedRevision: Number(result.nextExpectedRevision), positions };
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<StoredEvent> {
    try {
      const events = this.#client.readStream(stream, { fromRevision: BigInt(options.fromRevision ?? 0), ...(options.maxCount ? { maxCount: options.maxCount } : {}) });
      for await (const resolved of events) {
        const e = toStored(resolved);
        if (e) yield e;
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
  }

  #startFor(position: number): Position | 'start' {
    for (let p = Math.floor(position / sparseEvery) * sparseEvery; p >= 0; p -= sparseEvery) {
      const at = this.#sparse.get(p);
      if (at) return at;
    }
    return 'start';
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    const from = options.fromPosition ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return;
    for await (const resolved of this.#client.readAll({ fromPosition: this.#startFor(from), filter: excludeSystemEvents() })) {
      const e = toStored(resolved);
      if (!e || e.position < from) continue;
      yield e;
      if (--left <= 0) return;
    }
  }

  subscribe(fromPosition: number): Subscription {
    const subscription = this.#client.subscribeToAll({ fromPosition: this.#startFor(fromPosition), filter: excludeSystemEvents() });
    async function* iterate(): AsyncGenerator<StoredEvent> {
      for await (const resolved of subscription) {
        const e = toStored(resolved);
        if (e && e.position >= fromPosition) yield e;
      }
    }
    const iterator = iterate();
    return { [Symbol.asyncIterator]: () => iterator, close: () => subscription.unsubscribe() };
  }

  async size(): Promise<number> {
    return this.#next;
  }

  async getByEventId(eventId: string): Promise<StoredEvent | undefined> {
    const known = this.#ids.get(eventId);
    if (!known) return undefined;
    for await (const e of this.readAll({ fromPosition: known.position, maxCount: 1 })) return e;
    return undefined;
  }

  async close(): Promise<void> {
    await this.#sequencer;
    await this.#client.dispose();
  }
}
