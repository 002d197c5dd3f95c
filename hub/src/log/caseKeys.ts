// The key store of birth cases, OUTSIDE the log: one random AES-256 key per case, and the
// hub's secret that turns register keys into case ids (HMAC-SHA256). Its files are the only
// place the keys live: a key deleted here is gone (SQLite `secure_delete` zeroes the freed
// pages, a VACUUM after each erasure rewrites the file without the key, and the WAL is then
// copied into the file and truncated), so the case's ciphertext in the log can be read by no
// one. Backups of this file are copies of the keys: they must expire with the period.
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { formatRegisterKey, type GeburtenregisterKey } from '../../../contracts/index.ts';
import { preparePrivateDatabaseFile } from './privateFiles.ts';
import { logStorage } from './storageHealth.ts';
import { repoRoot } from '../infra/repoRoot.ts';

export const caseKeyFile = (dataDir: string): string => path.join(dataDir, 'keys', 'cases.sqlite');

export interface CaseKeyRow {
  readonly caseId: string;
  readonly createdAt: string;
  readonly lastHandoffAt: string | null;
}

/** Keys kept in memory (least recently used dropped first): memory stays flat in the number of cases. */
const cachedKeys = 10_000;
/** How long hand-off times wait to be written together (retention checks the log before it erases, so a crash losing them erases nothing early). */
const handoffFlushMs = 1000;

const writerScript = path.join(repoRoot, 'hub', 'src', 'log', 'caseKeysWriter.worker.js');

type WriterReply = { id: number; keys: (Uint8Array | null)[] } | { id: number; error: { message: string; code?: string } };

interface NewKey {
  readonly key: Buffer;
  readonly createdAt: string;
  readonly waiters: { resolve: (key: Buffer | undefined) => void; reject: (error: unknown) => void }[];
}

export class CaseKeyStore {
  readonly #db: Database.Database;
  readonly #secret: Buffer;
  readonly #cache = new Map<string, Buffer>();
  /** Keys to create in the next transaction (one fsync for all cases that begin meanwhile). */
  #newKeys = new Map<string, NewKey>();
  /**
   * The thread that commits new keys (caseKeysWriter.worker.js), one group at a time; the
   * keys asked for meanwhile wait for the next group. Reads stay on this thread (WAL: a read
   * never waits for that commit).
   */
  readonly #writer: Worker;
  #inFlight: { id: number; batch: Map<string, NewKey> } | undefined;
  #writes = 0;
  #writerFailed: Error | undefined;
  #closed = false;
  /** Settles once the writer thread has ended (and with it, its connection to the file). */
  readonly #writerEnded: Promise<void>;
  /** Latest hand-off per case, not yet written. */
  #handoffs = new Map<string, string>();
  #handoffTimer: NodeJS.Timeout | undefined;
  readonly #stmts;

  constructor(readonly file: string) {
    preparePrivateDatabaseFile(file);
    this.#db = new Database(file);
    // Deleted keys must not linger: freed pages are zeroed, and an erasure ends by copying the
    // WAL into the file and truncating it (destroy), so no older page with the key is left in
    // either. WAL: a new case's key costs one fsync, not a rollback journal's several.
    this.#db.pragma('secure_delete = ON');
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS hub_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS case_keys (
        case_id TEXT PRIMARY KEY, key BLOB NOT NULL, created_at TEXT NOT NULL, last_handoff_at TEXT, erasing INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS erased_cases (case_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL);
      -- Retention and recovery look up few rows among millions: indexed, so a start stays fast.
      CREATE INDEX IF NOT EXISTS case_keys_idle ON case_keys (COALESCE(last_handoff_at, created_at));
      CREATE INDEX IF NOT EXISTS case_keys_erasing ON case_keys (erasing) WHERE erasing = 1;
    `);
    this.#db.prepare('INSERT OR IGNORE INTO hub_secret (id, secret) VALUES (1, ?)').run(randomBytes(32));
    this.#secret = (this.#db.prepare('SELECT secret FROM hub_secret WHERE id = 1').get() as { secret: Buffer }).secret;
    this.#stmts = {
      key: this.#db.prepare('SELECT key FROM case_keys WHERE case_id = ?'),
      erased: this.#db.prepare('SELECT 1 FROM erased_cases WHERE case_id = ?'),
      handedOff: this.#db.prepare('UPDATE case_keys SET last_handoff_at = ? WHERE case_id = ? AND (last_handoff_at IS NULL OR last_handoff_at < ?)'),
    };
    this.#writer = new Worker(writerScript, { workerData: { file } });
    this.#writer.unref();
    this.#writer.on('message', (reply: WriterReply) => this.#settle(reply));
    this.#writer.on('error', (error) => this.#failWriter(error));
    this.#writerEnded = new Promise((resolve) => {
      this.#writer.on('exit', (code) => {
        if (!this.#closed) this.#failWriter(new Error(`the case key store's writer thread exited with code ${code}`));
        resolve();
      });
    });
  }

  /** A broken writer thread: the keys waiting for it fail, and so does every later new key. */
  #failWriter(error: Error): void {
    this.#writerFailed ??= error;
    const waiting = [...(this.#inFlight?.batch.values() ?? []), ...this.#newKeys.values()];
    this.#inFlight = undefined;
    this.#newKeys = new Map();
    for (const k of waiting) k.waiters.forEach((w) => w.reject(error));
  }

  #remember(caseId: string, key: Buffer): void {
    this.#cache.delete(caseId);
    this.#cache.set(caseId, key);
    if (this.#cache.size > cachedKeys) this.#cache.delete(this.#cache.keys().next().value!);
  }

  /** The keyed case id of a register key: 128 bits of HMAC-SHA256 under the hub's secret, hex. */
  caseIdOf(registerKey: GeburtenregisterKey | string): string {
    const text = typeof registerKey === 'string' ? registerKey : formatRegisterKey(registerKey);
    return createHmac('sha256', this.#secret).update(`elfe-case\0${text}`).digest('hex').slice(0, 32);
  }

  /** The case's key while it exists. */
  keyOf(caseId: string): Buffer | undefined {
    const cached = this.#cache.get(caseId);
    if (cached) {
      this.#remember(caseId, cached);
      return cached;
    }
    const row = this.#stmts.key.get(caseId) as { key: Buffer } | undefined;
    if (row) this.#remember(caseId, row.key);
    return row?.key;
  }

  isErased(caseId: string): boolean {
    return this.#stmts.erased.get(caseId) !== undefined;
  }

  /**
   * The case's key, created (random, 256 bits) on first use; none once the case is erased.
   * A new key is durable before the promise settles, so nothing is sealed under a key a crash
   * could lose; keys that cases ask for in the same turn share one transaction.
   */
  keyFor(caseId: string, now: Date): Promise<Buffer | undefined> {
    const existing = this.keyOf(caseId);
    if (existing) return Promise.resolve(existing);
    if (this.isErased(caseId)) return Promise.resolve(undefined);
    if (this.#writerFailed) return Promise.reject(this.#writerFailed);
    if (this.#closed) return Promise.reject(new Error('the case key store is closed'));
    return new Promise((resolve, reject) => {
      const pending = this.#newKeys.get(caseId) ?? this.#inFlight?.batch.get(caseId);
      if (pending) {
        pending.waiters.push({ resolve, reject });
        return;
      }
      if (this.#newKeys.size === 0 && !this.#inFlight) setImmediate(() => this.#createKeys());
      this.#newKeys.set(caseId, { key: randomBytes(32), createdAt: now.toISOString(), waiters: [{ resolve, reject }] });
    });
  }

  /** Hands the keys gathered so far to the writer thread, unless a group is being committed. */
  #createKeys(): void {
    if (this.#inFlight || this.#newKeys.size === 0 || this.#writerFailed) return;
    const batch = this.#newKeys;
    this.#newKeys = new Map();
    const id = ++this.#writes;
    this.#inFlight = { id, batch };
    this.#writer.ref();
    this.#writer.postMessage({ id, keys: [...batch].map(([caseId, k]) => ({ caseId, key: k.key, createdAt: k.createdAt })) });
  }

  #settle(reply: WriterReply): void {
    const flight = this.#inFlight;
    if (!flight || flight.id !== reply.id) return;
    this.#inFlight = undefined;
    this.#writer.unref();
    if ('error' in reply) {
      // Typed like the error of the transaction itself (a full disk is recognised by its code).
      const error = Object.assign(new Error(reply.error.message), { name: 'SqliteError', ...(reply.error.code ? { code: reply.error.code } : {}) });
      for (const k of flight.batch.values()) k.waiters.forEach((w) => w.reject(error));
    } else {
      [...flight.batch].forEach(([caseId, k], i) => {
        // Another hub process sharing the file may have created it first: its key is the key.
        const stored = reply.keys[i];
        const key = stored ? Buffer.from(stored) : undefined;
        if (key) this.#remember(caseId, key);
        k.waiters.forEach((w) => w.resolve(key));
      });
    }
    this.#createKeys();
  }

  /**
   * Records a hand-off of the case (the retention period runs from the last one). Written with
   * the others of the next second in one transaction; retention reads the case's stream before
   * it erases, so a hand-off time lost in a crash never makes a case go early.
   */
  handedOff(caseId: string, at: Date): void {
    const iso = at.toISOString();
    const known = this.#handoffs.get(caseId);
    if (known === undefined || known < iso) this.#handoffs.set(caseId, iso);
    this.#handoffTimer ??= setTimeout(() => this.#flushLater(), handoffFlushMs).unref();
  }

  /**
   * Writes the hand-off times recorded so far. Not written (a full disk), they are kept and
   * tried again a second later, never thrown from the timer (which ended the hub).
   */
  flushHandoffs(): void {
    if (this.#handoffTimer) clearTimeout(this.#handoffTimer);
    this.#handoffTimer = undefined;
    if (this.#handoffs.size === 0) return;
    const batch = this.#handoffs;
    this.#handoffs = new Map();
    try {
      this.#db.transaction(() => {
        for (const [caseId, at] of batch) this.#stmts.handedOff.run(at, caseId, at);
      })();
    } catch (error) {
      for (const [caseId, at] of batch) {
        const known = this.#handoffs.get(caseId);
        if (known === undefined || known < at) this.#handoffs.set(caseId, at);
      }
      this.#handoffTimer ??= setTimeout(() => this.#flushLater(), handoffFlushMs).unref();
      throw error;
    }
  }

  #flushLater(): void {
    try {
      this.flushHandoffs();
    } catch (error) {
      if (!logStorage.failed(error, 'case keys', this.file)) throw error;
    }
  }

  /** Cases whose last hand-off (or, without one, their first entry) is before `cutoff`. */
  idleSince(cutoff: Date): CaseKeyRow[] {
    this.flushHandoffs();
    return (this.#db.prepare('SELECT case_id, created_at, last_handoff_at FROM case_keys WHERE COALESCE(last_handoff_at, created_at) < ? ORDER BY COALESCE(last_handoff_at, created_at), case_id').all(cutoff.toISOString()) as { case_id: string; created_at: string; last_handoff_at: string | null }[]).map(
      (r) => ({ caseId: r.case_id, createdAt: r.created_at, lastHandoffAt: r.last_handoff_at }),
    );
  }

  /** Cases whose erasure was begun but not finished (a crash between logging and destroying). */
  erasing(): string[] {
    return (this.#db.prepare('SELECT case_id FROM case_keys WHERE erasing = 1').all() as { case_id: string }[]).map((r) => r.case_id);
  }

  markErasing(caseId: string): void {
    this.#db.prepare('UPDATE case_keys SET erasing = 1 WHERE case_id = ?').run(caseId);
  }

  /** Destroys the case's key for good: the row is deleted, its pages zeroed, the file rewritten. */
  destroy(caseId: string, at: Date): void {
    this.#cache.delete(caseId);
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM case_keys WHERE case_id = ?').run(caseId);
      this.#db.prepare('INSERT OR IGNORE INTO erased_cases (case_id, erased_at) VALUES (?, ?)').run(caseId, at.toISOString());
    })();
    this.#db.exec('VACUUM');
    // The WAL still holds the pages as they were before (the key among them): copied into the
    // file and truncated to nothing. A reader in the middle of a read holds it back; tried again.
    for (let attempt = 1; ; attempt++) {
      const [result] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (!result || result.busy === 0) break;
      if (attempt >= 50) throw new Error(`the case key store's WAL could not be emptied after erasing case ${caseId}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }

  /**
   * Closes the store. A group of new keys being committed is finished by the writer thread
   * (its waiters are answered); keys asked for and not yet handed to it are refused. Settles
   * once the writer thread has closed its connection too: the last connection to close
   * checkpoints the WAL and removes it, and until then the store's files are still changing.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#writerEnded;
    this.#closed = true;
    const unsent = [...this.#newKeys.values()];
    this.#newKeys = new Map();
    for (const k of unsent) k.waiters.forEach((w) => w.reject(new Error('the case key store is closed')));
    // Held by the process until it has ended: closing is awaited, and a process whose only work
    // left is an unref'd thread would otherwise exit before it (code 13, a top-level await unsettled).
    this.#writer.ref();
    this.#writer.postMessage({ close: true });
    try {
      this.flushHandoffs();
    } catch (error) {
      // A full disk: the times are lost, which is safe (see handedOff); the store still closes.
      if (!logStorage.failed(error, 'case keys', this.file)) throw error;
    } finally {
      if (this.#handoffTimer) clearTimeout(this.#handoffTimer);
      this.#handoffTimer = undefined;
      this.#cache.clear();
      this.#db.close();
    }
    return this.#writerEnded;
  }
}
