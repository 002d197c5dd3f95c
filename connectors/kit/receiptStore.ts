// The receipts an agency connector gave, one row per delivery id in one SQLite database per
// connector (`<stateDir>/receipts.sqlite`): a redelivery finds its receipt and sends the same one
// again. The receipts of a batch of deliveries are put inside one transaction (begun by the
// first, seen by `get` at once) and committed together, once the batch's inbox files are
// durable and before any of its receipts is sent: one commit (one fsync of the WAL, with
// synchronous=FULL) per batch instead of one fsync per receipt.
//
// Erasure: `remove` deletes the rows of an erased case's deliveries with secure_delete on (their
// bytes overwritten with zeros) and then truncates the WAL, so that neither the database file
// nor its WAL holds them any more.
//
// Receipts kept as files by earlier versions (`<stateDir>/receipts/<deliveryId>.json`) are
// imported when the store opens (one transaction, existing rows kept), and the files removed
// only after that commit: a crash in between imports them again, to the same rows.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ReceiptSchema, type Receipt } from '../../contracts/index.ts';
import { ensurePrivateDir, preparePrivateSqliteFile, syncDirs } from './atomicFile.ts';

export interface ReceiptStore {
  /** The file of the database. */
  readonly file: string;
  /** The receipt kept for this delivery (committed, or put in the open batch), if any. */
  get(deliveryId: string): Receipt | undefined;
  /**
   * Keeps a receipt in the open batch (begun here if none is open). A failure concerns this
   * receipt alone, unless SQLite rolled the whole batch back (a full disk): then `commit` fails.
   */
  put(receipt: Receipt): void;
  /** Makes the batch's receipts durable (one commit); on failure the batch is rolled back and the error thrown. */
  commit(): void;
  /** Drops the open batch, if any. */
  rollback(): void;
  /**
   * Deletes the receipts of these deliveries (committed at once, the deleted bytes overwritten)
   * and truncates the WAL. Not while a batch is open.
   */
  remove(deliveryIds: readonly string[]): void;
  /** Batches committed since the store opened. */
  readonly commits: number;
  /** Receipts imported from legacy files when the store opened. */
  readonly imported: number;
  close(): void;
}

export const receiptsFileOf = (stateDir: string): string => path.join(stateDir, 'receipts.sqlite');
/** Where earlier versions kept one file per receipt. */
export const legacyReceiptsDirOf = (stateDir: string): string => path.join(stateDir, 'receipts');

export function openReceiptStore(stateDir: string): ReceiptStore {
  ensurePrivateDir(stateDir);
  const file = receiptsFileOf(stateDir);
  // The file's name durable once (SQLite makes its WAL's name durable itself).
  if (preparePrivateSqliteFile(file)) syncDirs([stateDir]);
  const db = new Database(file);
  let imported = 0;
  try {
    // Deleted receipts must not linger in free space: overwritten with zeros.
    db.pragma('secure_delete = ON');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    // IF NOT EXISTS: a table made before (and what was made with it) stays as it is.
    db.exec('CREATE TABLE IF NOT EXISTS receipts (delivery_id TEXT PRIMARY KEY, receipt TEXT NOT NULL) WITHOUT ROWID');
    imported = importLegacy(db, stateDir);
  } catch (error) {
    db.close();
    throw error;
  }
  const stmts = {
    get: db.prepare<[string], { receipt: string }>('SELECT receipt FROM receipts WHERE delivery_id = ?'),
    insert: db.prepare<[string, string]>('INSERT INTO receipts (delivery_id, receipt) VALUES (?, ?)'),
    remove: db.prepare<[string]>('DELETE FROM receipts WHERE delivery_id = ?'),
  };
  /** Whether this store began the transaction that is open. */
  let open = false;
  /** Why the open batch lost receipts already put (SQLite rolled it back): `commit` fails with it. */
  let lost: unknown;
  let commits = 0;
  let closed = false;

  const rollback = (): void => {
    open = false;
    lost = undefined;
    if (db.inTransaction) db.exec('ROLLBACK');
  };

  return {
    file,
    get(deliveryId) {
      const row = stmts.get.get(deliveryId);
      return row ? ReceiptSchema.parse(JSON.parse(row.receipt)) : undefined;
    },
    put(receipt) {
      if (!open) {
        db.exec('BEGIN IMMEDIATE');
        open = true;
      }
      try {
        stmts.insert.run(receipt.deliveryId, JSON.stringify(receipt));
      } catch (error) {
        // A refused row leaves the batch as it was; an I/O error or a full disk may have rolled it back.
        if (!db.inTransaction) {
          lost ??= error;
          open = false;
        }
        throw error;
      }
    },
    commit() {
      if (lost !== undefined) {
        const error = lost;
        rollback();
        throw error;
      }
      if (!open) return;
      try {
        db.exec('COMMIT');
      } catch (error) {
        try {
          rollback();
        } catch {
          // The commit's failure is the one to tell.
        }
        throw error;
      }
      open = false;
      commits++;
    },
    rollback,
    remove(deliveryIds) {
      if (open || lost !== undefined) throw new Error('receipts of a batch are not committed yet');
      db.transaction(() => {
        for (const id of deliveryIds) stmts.remove.run(id);
      })();
      // The WAL still holds the deleted rows' earlier pages: copied back and truncated.
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      if (result && result.busy !== 0) throw new Error(`${file}: the WAL could not be truncated (a reader is open); the erased receipts may linger in it`);
    },
    get commits() {
      return commits;
    },
    imported,
    close() {
      if (closed) return;
      closed = true;
      rollback();
      db.close();
    },
  };
}

/** Imports `<stateDir>/receipts/*.json` (earlier versions' receipts) in one transaction, then removes them. */
function importLegacy(db: Database.Database, stateDir: string): number {
  const dir = legacyReceiptsDirOf(stateDir);
  if (!existsSync(dir)) return 0;
  const names = readdirSync(dir);
  // `.<name>.<pid>.tmp`: a write that never reached its rename, so a receipt that was never sent.
  const unfinished = names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'));
  const receipts = names.filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  const insert = db.prepare<[string, string]>('INSERT OR IGNORE INTO receipts (delivery_id, receipt) VALUES (?, ?)');
  db.transaction(() => {
    for (const name of receipts) {
      let text: string;
      try {
        text = readFileSync(path.join(dir, name), 'utf8');
        ReceiptSchema.parse(JSON.parse(text));
      } catch (error) {
        throw new Error(`${path.join(dir, name)} is no receipt, nothing imported (${(error as Error).message})`, { cause: error });
      }
      // Kept as it was written, found by the name it was found by.
      insert.run(name.slice(0, -'.json'.length), text);
    }
  })();
  for (const name of [...receipts, ...unfinished]) rmSync(path.join(dir, name));
  if (readdirSync(dir).length === 0) {
    rmdirSync(dir);
    syncDirs([stateDir]);
  } else syncDirs([dir]);
  return receipts.length;
}
