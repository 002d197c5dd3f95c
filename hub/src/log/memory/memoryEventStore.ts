// An event store for unit tests and throw-away runs: the SQLite store on an in-memory
// database, so it has exactly the same semantics (and passes the same conformance suite).
import type { SqliteEventStoreOptions } from '../sqlite/sqliteEventStore.ts';
import { SqliteEventStore } from '../sqlite/sqliteEventStore.ts';

export function createMemoryEventStore(options?: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(':memory:', options);
}
