// The hub's record of what witnesses said about its checkpoints, beside the log (not in it:
// cosignatures are self-authenticating, and entries for them would themselves need new
// checkpoints). One row per (checkpoint size, witness) with the cosignature line, and one row
// per refusal, so that a refused checkpoint stays on record after a restart.
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../log/privateFiles.ts';

export interface WitnessRefusal {
  readonly treeSize: number;
  readonly witness: string;
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

export class CosignatureStore {
  readonly #db: Database.Database;

  constructor(file: string) {
    preparePrivateDatabaseFile(file);
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS cosignatures (tree_size INTEGER NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (tree_size, witness, line));
      CREATE TABLE IF NOT EXISTS refusals (id INTEGER PRIMARY KEY, tree_size INTEGER NOT NULL, witness TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, at TEXT NOT NULL);
    `);
  }

  add(treeSize: number, witness: string, lines: string): void {
    const put = this.#db.prepare('INSERT OR IGNORE INTO cosignatures (tree_size, witness, line) VALUES (?, ?, ?)');
    this.#db.transaction(() => {
      for (const line of lines.split('\n').filter((l) => l.length > 0)) put.run(treeSize, witness, line);
    })();
  }

  /** Cosignature lines (each ending in a newline) for the checkpoint of `treeSize`. */
  linesFor(treeSize: number): string {
    const rows = this.#db.prepare('SELECT line FROM cosignatures WHERE tree_size = ? ORDER BY witness, line').all(treeSize) as { line: string }[];
    return rows.map((r) => `${r.line}\n`).join('');
  }

  /** The largest size `witness` cosigned, if any. */
  lastCosignedSize(witness: string): number | undefined {
    const row = this.#db.prepare('SELECT MAX(tree_size) AS size FROM cosignatures WHERE witness = ?').get(witness) as { size: number | null };
    return row.size ?? undefined;
  }

  refuse(refusal: WitnessRefusal): void {
    this.#db.prepare('INSERT INTO refusals (tree_size, witness, code, message, at) VALUES (?, ?, ?, ?, ?)').run(refusal.treeSize, refusal.witness, refusal.code, refusal.message, refusal.at);
  }

  refusals(): WitnessRefusal[] {
    return (this.#db.prepare('SELECT tree_size AS treeSize, witness, code, message, at FROM refusals ORDER BY id').all() as WitnessRefusal[]).map((r) => ({ ...r }));
  }

  close(): void {
    this.#db.close();
  }
}
