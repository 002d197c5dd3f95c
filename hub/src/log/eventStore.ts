// The store port: what every event-store backend (SQLite, KurrentDB) provides.
// Tamper evidence (Merkle tree, checkpoints) sits above this port.
import type { StoredLogEntry } from '../../../contracts/index.ts';

/** A JSON value as stored: plain objects, arrays, strings, finite numbers, booleans, null. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** An event to append. `eventId` is the idempotency key: appending it again stores nothing new. */
export interface NewEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: JsonValue;
  readonly metadata: JsonValue;
}

/** An event as the log holds it. */
export interface StoredEvent extends NewEvent {
  readonly stream: string;
  /** 0-based revision within its stream. */
  readonly streamRevision: number;
  /** 0-based position in the global order; gap-free. */
  readonly position: number;
  /** ISO 8601 UTC time the store recorded the event. */
  readonly recordedAt: string;
}

/**
 * Optimistic concurrency: `'no-stream'` (the stream must not exist), `'stream-exists'`,
 * `'any'`, or the revision of the stream's last event.
 */
export type ExpectedRevision = number | 'no-stream' | 'stream-exists' | 'any';

export interface AppendResult {
  /** Revision of the stream's last event after the append. */
  readonly nextExpectedRevision: number;
  /** Global positions of the appended events, in order (existing ones for duplicates). */
  readonly positions: readonly number[];
}

export interface ReadStreamOptions {
  readonly fromRevision?: number;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  readonly fromPosition?: number;
  readonly maxCount?: number;
}

/**
 * What a subscriber needs opened. A store that seals entries (the case log) opens only those
 * `open` accepts and passes the others as stored: their position, stream and type are always
 * clear. Stores that seal nothing ignore it.
 */
export interface SubscribeOptions {
  readonly open?: (stored: StoredEvent) => boolean;
}

/** Catch-up then live subscription to the global order. */
export interface Subscription extends AsyncIterable<StoredEvent> {
  close(): Promise<void>;
}

/**
 * Entries as a store keeps them when it stores `data` and `metadata` as their RFC 8785
 * canonical text: the tree and the audit hash these texts as stored, without parsing them.
 */
export interface CanonicalPages {
  /** Up to `maxCount` entries of the global order from `fromPosition` on, read synchronously. */
  readCanonicalPage(fromPosition: number, maxCount: number): readonly StoredLogEntry[];
  /** One past the last position whose append has settled, known without a query. */
  end?(): number;
}

export interface EventStore {
  append(stream: string, events: readonly NewEvent[], expectedRevision?: ExpectedRevision): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent>;
  subscribe(fromPosition: number, options?: SubscribeOptions): Subscription;
  /** Position one past the last stored event (the number of events in the log). */
  size(): Promise<number>;
  /** The event with this id, if stored. */
  getByEventId(eventId: string): Promise<StoredEvent | undefined>;
  close(): Promise<void>;
  /** Present on stores that keep every entry's data and metadata as canonical text; undefined for a store written before. */
  canonicalPages?(): CanonicalPages | undefined;
  /**
   * The stream's last revision as this store object committed or read it, without asking
   * storage (-1: no entry yet); undefined when it does not know. Only for a store its process writes alone (the
   * data directory's lock): a reader that holds a stream up to this revision has all of it.
   */
  readonly knownHead?: ((stream: string) => number | undefined) | undefined;
}

/** An append or read after `close()`; the same for every adapter. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  readonly code = 'store-closed';
  constructor() {
    super('the event store is closed');
  }
}

export class WrongExpectedRevisionError extends Error {
  override readonly name = 'WrongExpectedRevisionError';
  readonly code = 'wrong-expected-revision';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no-stream',
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

/** The same event id came back with different content. */
export class DuplicateEventIdError extends Error {
  override readonly name = 'DuplicateEventIdError';
  readonly code = 'duplicate-event-id';
  constructor(readonly eventId: string) {
    super(`event id ${eventId} is already stored with different content`);
  }
}
