// The Merkle tree of the log, persisted in its own SQLite file (so it sits above every store
// backend). It keeps leaf hashes and every complete, aligned subtree (level, index), so that
// a restart reads the frontier instead of rehashing history, and proofs come from storage.
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../privateFiles.ts';
import { asStorageFull, logStorage } from '../storageHealth.ts';
import { isPowerOfTwo, nodeHash, splitPoint, emptyRoot, type Hash, type RangeHasher } from '../../../../contracts/index.ts';

export class TreeStore {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #get: Database.Statement;
  readonly #put: Database.Statement;
  readonly #leaves: Database.Statement;
  #size: number;
  /** Leaves hashed into the tree by this process (restart tests count on it). */
  leavesAdded = 0;

  constructor(file: string) {
    if (file !== ':memory:') preparePrivateDatabaseFile(file);
    this.#file = file;
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec('CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID');
    this.#get = this.#db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?');
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?, ?, ?)');
    this.#leaves = this.#db.prepare('SELECT hash FROM nodes WHERE level = 0 AND idx >= ? AND idx < ? ORDER BY idx').pluck();
    const row = this.#db.prepare('SELECT MAX(idx) AS last FROM nodes WHERE level = 0').get() as { last: number | null };
    this.#size = row.last === null ? 0 : row.last + 1;
  }

  get size(): number {
    return this.#size;
  }

  node(level: number, index: number): Hash {
    const row = this.#get.get(level, index) as { hash: Buffer } | undefined;
    if (!row) throw new Error(`tree node (${level}, ${index}) missing`);
    return row.hash;
  }

  /** Leaf hashes [start, end), in one read (the audit compares them page by page). */
  leaves(start: number, end: number): Hash[] {
    const hashes = this.#leaves.all(start, end) as Buffer[];
    if (hashes.length !== Math.max(0, end - start)) throw new Error(`tree leaves [${start}, ${end}) missing`);
    return hashes;
  }

  /**
   * Appends leaf hashes in one transaction; the leaves must continue the tree at `size`. The
   * size moves only once the transaction committed: a failed one (a full disk) leaves the tree
   * as it was, and the same leaves are appended again later.
   */
  append(leaves: readonly Hash[]): void {
    if (leaves.length === 0) return;
    let size = this.#size;
    try {
      this.#db.transaction(() => {
        size = this.#size;
        for (const leaf of leaves) {
          let index = size;
          let hash = leaf;
          this.#put.run(0, index, hash);
          // Each time a right child completes a subtree, store the parent.
          for (let level = 0; index % 2 === 1; level++) {
            hash = nodeHash(this.node(level, index - 1), hash);
            index = Math.floor(index / 2);
            this.#put.run(level + 1, index, hash);
          }
          size++;
        }
      })();
    } catch (error) {
      if (this.#file === ':memory:') throw error;
      const typed = asStorageFull(error, this.#file);
      logStorage.failed(typed, 'tree', this.#file);
      throw typed;
    }
    this.leavesAdded += size - this.#size;
    this.#size = size;
    if (this.#file !== ':memory:') logStorage.succeeded();
  }

  /** Merkle Tree Hash of leaves [start, end) from stored complete subtrees. */
  readonly hashRange: RangeHasher = (start, end) => {
    if (end > this.#size || start >= end) throw new RangeError(`range [${start}, ${end}) is not in a tree of size ${this.#size}`);
    const n = end - start;
    if (isPowerOfTwo(n) && start % n === 0) return this.node(Math.log2(n), start / n);
    const k = splitPoint(n);
    return nodeHash(this.hashRange(start, start + k), this.hashRange(start + k, end));
  };

  root(size = this.#size): Hash {
    return size === 0 ? emptyRoot : this.hashRange(0, size);
  }

  /** Drops leaves from `size` on (used when the tree got ahead of a store that lost them). */
  truncate(size: number): void {
    this.#db.transaction(() => {
      for (let level = 0; ; level++) {
        const fromIdx = Math.floor(size / 2 ** level);
        const removed = this.#db.prepare('DELETE FROM nodes WHERE level = ? AND idx >= ?').run(level, fromIdx);
        if (removed.changes === 0 && 2 ** level > this.#size) break;
      }
    })();
    this.#size = Math.min(this.#size, size);
  }

  close(): void {
    this.#db.close();
  }
}
