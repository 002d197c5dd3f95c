// A submitting office's durable outbox (Standesamt, Meldebehörde): every signed submission is
// stored (SQLite, WAL, synchronous=FULL) before it is sent, so nothing is lost while the hub
// is down, and the hub's answer is kept beside it: `pending` until the hub answered, then
// `accepted` (with the log position and where the hand-offs stand) or `refused` (with the
// code and the hub's message). The file is private (0600): it holds names and IdNrs.
// Answered entries are pruned after a retention time, so personal data does not pile up.
//
// What is fsync'd: every submission before it is sent (a burst's submissions together, one
// commit), and every refusal. An acceptance is written without an fsync of its own: a crash of
// the process keeps it (the write-ahead log is in the kernel's cache), the next fsync'd commit
// takes it along, and a power cut before that can at worst turn it back into `pending`; the
// entry is then sent again, and the hub answers a submission it logged with the same position
// (`duplicate`). A refusal is not left to that: sent again later, a submission refused for a
// time-bound reason (a date in the future) could be taken.
import Database from 'better-sqlite3';
import { preparePrivateSqliteFile } from '../../kit/atomicFile.ts';

export type OutboxStatus = 'pending' | 'accepted' | 'refused';

export interface OutboxEntry {
  readonly seq: number;
  readonly messageId: string;
  /** The register key (`11007007/G/2026/334`): submissions of one birth case are sent in order. */
  readonly caseKey: string;
  readonly body: string;
  readonly status: OutboxStatus;
}

/** A signed submission to store. */
export interface OutboxInput {
  readonly messageId: string;
  /** The register key: submissions of one birth case are sent in order. */
  readonly caseKey: string;
  readonly body: string;
  readonly type?: string;
}

/** One entry as a clerk reads it: what, for which birth, when, and the hub's answer. */
export interface OutboxRecord {
  readonly messageId: string;
  readonly registerKey: string;
  readonly type: string | null;
  readonly status: OutboxStatus;
  readonly createdAt: string;
  readonly answeredAt: string | null;
  readonly position: number | null;
  readonly duplicate: boolean;
  readonly code: string | null;
  readonly error: string | null;
  /** The hub's routing outlook (JSON), when it sent one. */
  readonly routing: unknown;
  /** The birth's tracking code for the parents, when the hub sent one. */
  readonly trackingCode: string | null;
}

interface Row {
  message_id: string;
  case_key: string;
  type: string | null;
  status: string;
  created_at: string;
  answered_at: string | null;
  position: number | null;
  duplicate: number | null;
  code: string | null;
  error: string | null;
  routing: string | null;
  tracking_code: string | null;
}

const toRecord = (r: Row): OutboxRecord => ({
  messageId: r.message_id,
  registerKey: r.case_key,
  type: r.type,
  status: r.status as OutboxStatus,
  createdAt: r.created_at,
  answeredAt: r.answered_at,
  position: r.position,
  duplicate: r.duplicate === 1,
  code: r.code,
  error: r.error,
  routing: r.routing ? (JSON.parse(r.routing) as unknown) : null,
  trackingCode: r.tracking_code,
});

export class Outbox {
  readonly #db: Database.Database;
  readonly #stmts;
  readonly #insertAll: (entries: readonly OutboxInput[], now: string) => void;

  constructor(file: string) {
    preparePrivateSqliteFile(file);
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    // Pruned entries are overwritten, not merely unlinked: their names and IdNrs leave the file.
    this.#db.pragma('secure_delete = ON');
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
    // Outboxes written before answers were kept in full.
    const columns = new Set((this.#db.pragma('table_info(outbox)') as { name: string }[]).map((c) => c.name));
    for (const [name, type] of [['type', 'TEXT'], ['code', 'TEXT'], ['duplicate', 'INTEGER'], ['routing', 'TEXT'], ['answered_at', 'TEXT'], ['tracking_code', 'TEXT']] as const) {
      if (!columns.has(name)) this.#db.exec(`ALTER TABLE outbox ADD COLUMN ${name} ${type}`);
    }
    this.#db.exec(`UPDATE outbox SET status = 'accepted' WHERE status = 'delivered'; UPDATE outbox SET status = 'refused' WHERE status = 'rejected';
      CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_key); CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, answered_at)`);
    preparePrivateSqliteFile(file);
    const fields = 'message_id, case_key, type, status, created_at, answered_at, position, duplicate, code, error, routing, tracking_code';
    this.#stmts = {
      add: this.#db.prepare('INSERT OR IGNORE INTO outbox (message_id, case_key, type, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      pending: this.#db.prepare("SELECT seq, message_id AS messageId, case_key AS caseKey, body, status FROM outbox WHERE status = 'pending' ORDER BY seq"),
      accepted: this.#db.prepare("UPDATE outbox SET status = 'accepted', position = ?, duplicate = ?, routing = ?, tracking_code = ?, answered_at = ?, updated_at = ? WHERE message_id = ?"),
      refused: this.#db.prepare("UPDATE outbox SET status = 'refused', code = ?, error = ?, answered_at = ?, updated_at = ? WHERE message_id = ?"),
      counts: this.#db.prepare('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status'),
      get: this.#db.prepare(`SELECT ${fields} FROM outbox WHERE message_id = ?`),
      all: this.#db.prepare(`SELECT ${fields} FROM outbox ORDER BY seq`),
      byCase: this.#db.prepare(`SELECT ${fields} FROM outbox WHERE case_key = ? ORDER BY seq`),
      prune: this.#db.prepare("DELETE FROM outbox WHERE status <> 'pending' AND answered_at IS NOT NULL AND answered_at < ?"),
    };
    const add = this.#stmts.add;
    this.#insertAll = this.#db.transaction((entries: readonly OutboxInput[], now: string) => {
      for (const e of entries) add.run(e.messageId, e.caseKey, e.type ?? null, e.body, now, now);
    });
  }

  /** Commits that were fsync'd (the submissions' and the refusals'); acceptances are not counted. */
  durableCommits = 0;

  /** Stores a signed submission unless its message id is there already (then the first one stands). */
  add(messageId: string, caseKey: string, body: string, type?: string): void {
    this.addAll([{ messageId, caseKey, body, ...(type !== undefined ? { type } : {}) }]);
  }

  /** Stores signed submissions in one commit (one fsync); each unless its message id is there already. */
  addAll(entries: readonly OutboxInput[]): void {
    if (entries.length === 0) return;
    const now = new Date().toISOString();
    this.#insertAll(entries, now);
    this.durableCommits++;
  }


  /** An acceptance's update: durable against a crash of the process, not fsync'd on its own (see the top of this file). */
  #accepted(write: () => void): void {
    this.#db.pragma('synchronous = NORMAL');
    try {
      write();
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  pending(): OutboxEntry[] {
    return this.#stmts.pending.all() as OutboxEntry[];
  }

  markAccepted(messageId: string, answer: { position: number; duplicate: boolean; routing?: unknown; trackingCode?: string }): void {
    const now = new Date().toISOString();
    this.#accepted(() => this.#stmts.accepted.run(answer.position, answer.duplicate ? 1 : 0, answer.routing === undefined ? null : JSON.stringify(answer.routing), answer.trackingCode ?? null, now, now, messageId));
  }

  markRefused(messageId: string, code: string, message: string): void {
    const now = new Date().toISOString();
    this.#stmts.refused.run(code, message, now, now, messageId);
    this.durableCommits++;
  }

  status(messageId: string): OutboxRecord | undefined {
    const row = this.#stmts.get.get(messageId) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Every entry, or one birth's entries, oldest first. */
  list(registerKey?: string): OutboxRecord[] {
    const rows = (registerKey === undefined ? this.#stmts.all.all() : this.#stmts.byCase.all(registerKey)) as Row[];
    return rows.map(toRecord);
  }

  counts(): Record<OutboxStatus, number> {
    const out: Record<OutboxStatus, number> = { pending: 0, accepted: 0, refused: 0 };
    for (const row of this.#stmts.counts.all() as { status: OutboxStatus; n: number }[]) out[row.status] = row.n;
    return out;
  }

  /** Deletes entries answered more than `retentionMs` ago (pending ones stay until answered). Returns how many. */
  prune(retentionMs: number, now: Date = new Date()): number {
    const removed = this.#stmts.prune.run(new Date(now.getTime() - retentionMs).toISOString()).changes;
    // The write-ahead log still holds the old pages until it is folded in and emptied.
    if (removed > 0) this.#db.pragma('wal_checkpoint(TRUNCATE)');
    return removed;
  }

  close(): void {
    this.#db.close();
  }
}
