// The Standesamt's durable outbox: every signed submission is stored (SQLite, WAL,
// synchronous=FULL) before it is sent, so nothing is lost while the hub is down.
import Database from 'better-sqlite3';

export type OutboxStatus = 'pending' | 'delivered' | 'rejected';

export interface OutboxEntry {
  readonly seq: number;
  readonly messageId: string;
  /** Submissions of one birth case are sent in order. */
  readonly caseKey: string;
  readonly body: string;
  readonly status: OutboxStatus;
}

export class Outbox {
  readonly #db: Database.Database;
  readonly #stmts;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      message_id TEXT NOT NULL UNIQUE,
      case_key TEXT NOT NULL,
      body TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending',
      position INTEGER,
      error TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`);
    this.#stmts = {
      add: this.#db.prepare("INSERT OR IGNORE INTO outbox (message_id, case_key, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"),
      pending: this.#db.prepare("SELECT seq, message_id AS messageId, case_key AS caseKey, body, status FROM outbox WHERE status = 'pending' ORDER BY seq"),
      delivered: this.#db.prepare("UPDATE outbox SET status = 'delivered', position = ?, updated_at = ? WHERE message_id = ?"),
      rejected: this.#db.prepare("UPDATE outbox SET status = 'rejected', error = ?, updated_at = ? WHERE message_id = ?"),
      counts: this.#db.prepare('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status'),
      get: this.#db.prepare('SELECT status, position, error FROM outbox WHERE message_id = ?'),
    };
  }

  add(messageId: string, caseKey: string, body: string): void {
    const now = new Date().toISOString();
    this.#stmts.add.run(messageId, caseKey, body, now, now);
  }

  pending(): OutboxEntry[] {
    return this.#stmts.pending.all() as OutboxEntry[];
  }

  markDelivered(messageId: string, position: number): void {
    this.#stmts.delivered.run(position, new Date().toISOString(), messageId);
  }

  markRejected(messageId: string, error: string): void {
    this.#stmts.rejected.run(error, new Date().toISOString(), messageId);
  }

  status(messageId: string): { status: OutboxStatus; position: number | null; error: string | null } | undefined {
    return this.#stmts.get.get(messageId) as { status: OutboxStatus; position: number | null; error: string | null } | undefined;
  }

  counts(): Record<OutboxStatus, number> {
    const out: Record<OutboxStatus, number> = { pending: 0, delivered: 0, rejected: 0 };
    for (const row of this.#stmts.counts.all() as { status: OutboxStatus; n: number }[]) out[row.status] = row.n;
    return out;
  }

  close(): void {
    this.#db.close();
  }
}
