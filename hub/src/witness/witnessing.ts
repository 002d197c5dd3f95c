// The hub's witnessing: every checkpoint the log signs goes to each configured witness (one
// submission at a time per witness; a newer checkpoint supersedes a queued older one). Returned
// cosignatures are stored with their checkpoint; a refusal is loud: a log line, a counter, and
// a row in the cosignature store that survives restarts.
//
// The hub's side of C2SP tlog-witness: submits a checkpoint with a consistency proof from the
// size the witness last cosigned, follows a 409 once or twice to the size the witness reports,
// and checks the returned cosignature with the witness's key before anyone stores it.
//
// The hub's record of what witnesses said about its checkpoints, beside the log (not in it:
// cosignatures are self-authenticating, and entries for them would themselves need new
// checkpoints). One row per (checkpoint size, witness) with the cosignature line, and one row
// per refusal, so that a refused checkpoint stays on record after a restart.
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../log/privateFiles.ts';
import {
  addSignatureLines,
  formatAddCheckpointRequest,
  parseTlogSize,
  parseWitnessVerifierKey,
  verifyCosignature,
  type CosignatureVerifier,
  type Hash,
} from '../../../contracts/index.ts';
import type { CheckpointObserver, CheckpointRecord, TransparentLog } from '../log/transparentLog.ts';
import { backoffMs } from '../../../connectors/kit/lifecycle.ts';

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

export interface WitnessEndpoint {
  /** Submission prefix, e.g. `http://127.0.0.1:7380`; `/add-checkpoint` is appended. */
  readonly url: string;
  /** The witness's cosignature/v1 vkey. */
  readonly verifierKey: string;
}

export type WitnessRefusalCode =
  | 'unreachable'
  | 'malformed-request'
  | 'unknown-log'
  | 'bad-log-signature'
  | 'inconsistent'
  | 'fork'
  | 'witness-ahead'
  | 'bad-cosignature'
  | 'unexpected-answer';

export class WitnessRefusedError extends Error {
  override readonly name = 'WitnessRefusedError';
  constructor(
    readonly code: WitnessRefusalCode,
    message: string,
    readonly witness: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SubmitCheckpoint {
  readonly note: string;
  readonly treeSize: number;
  /** RFC 9162 consistency proof from `from` to `treeSize` (from the log's tree). */
  readonly consistencyPath: (from: number) => readonly Hash[];
}

export class WitnessClient {
  readonly endpoint: WitnessEndpoint;
  readonly verifier: CosignatureVerifier;
  readonly #timeoutMs: number;
  /** The size the witness last cosigned, as far as this client knows. */
  knownSize: number;

  constructor(endpoint: WitnessEndpoint, options: { knownSize?: number; timeoutMs?: number } = {}) {
    const verifier = parseWitnessVerifierKey(endpoint.verifierKey);
    if (!verifier.success) throw verifier.error;
    this.endpoint = endpoint;
    this.verifier = verifier.data;
    this.knownSize = options.knownSize ?? 0;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  get name(): string {
    return this.verifier.name;
  }

  /** Returns the witness's verified cosignature line(s), or throws a `WitnessRefusedError`. */
  async submit(checkpoint: SubmitCheckpoint): Promise<string> {
    let old = Math.min(this.knownSize, checkpoint.treeSize);
    for (let attempt = 0; attempt < 3; attempt++) {
      const proof = old === 0 || old === checkpoint.treeSize ? [] : checkpoint.consistencyPath(old);
      const response = await this.#post(formatAddCheckpointRequest({ oldSize: old, proof, note: checkpoint.note }));
      if (response.status === 200) {
        const cosigned = verifyCosignature(addSignatureLines(checkpoint.note, response.body), this.verifier);
        if (!cosigned.success) throw this.#refused('bad-cosignature', `the answer is not a valid cosignature: ${cosigned.error.message}`);
        this.knownSize = checkpoint.treeSize;
        const line = response.body.split('\n').find((l) => l.startsWith(`— ${this.verifier.name} `) && verifyCosignature(`${checkpoint.note}${l}\n`, this.verifier).success);
        return `${line}\n`;
      }
      if (response.status === 409) {
        const size = parseTlogSize(response.body);
        if (size === undefined) throw this.#refused('unexpected-answer', '409 without a tree size');
        this.knownSize = size;
        if (size > checkpoint.treeSize) throw this.#refused('witness-ahead', `the witness cosigned size ${size}, more than this checkpoint's ${checkpoint.treeSize}: the log lost entries or was rolled back`);
        if (size === old) throw this.#refused('fork', `the witness holds another root at size ${size}: the log forked`);
        old = size;
        continue;
      }
      const code: WitnessRefusalCode =
        response.status === 422 ? 'inconsistent' : response.status === 403 ? 'bad-log-signature' : response.status === 404 ? 'unknown-log' : response.status === 400 ? 'malformed-request' : 'unexpected-answer';
      throw this.#refused(code, `HTTP ${response.status}: ${response.body.trim().slice(0, 300)}`);
    }
    throw this.#refused('unexpected-answer', 'the witness kept answering 409');
  }

  #refused(code: WitnessRefusalCode, message: string, cause?: unknown): WitnessRefusedError {
    return new WitnessRefusedError(code, `witness ${this.verifier.name}: ${message}`, this.verifier.name, cause === undefined ? undefined : { cause });
  }

  async #post(body: string): Promise<{ status: number; body: string }> {
    const url = `${this.endpoint.url.replace(/\/+$/, '')}/add-checkpoint`;
    // A submission is safe to repeat (the witness decides from its state), so a connection lost
    // in transit, e.g. a kept-alive one closed by the server, is retried once.
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(this.#timeoutMs) });
        const text = (await response.text()).slice(0, 64 * 1024);
        return { status: response.status, body: text };
      } catch (error) {
        if (attempt === 0) continue;
        const cause = (error as Error).cause;
        throw this.#refused('unreachable', `${url}: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`, error);
      }
    }
  }
}

export interface WitnessingOptions {
  readonly witnesses: readonly WitnessEndpoint[];
  readonly store: CosignatureStore;
  /** Where refusals are reported (default: stderr). */
  readonly log?: (line: string) => void;
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  /** First pause before a checkpoint is sent again to a witness that was unreachable (doubling up to `maxRetryMs`); default 2 s. */
  readonly retryMs?: number;
  /** Default 60 s. */
  readonly maxRetryMs?: number;
}

export interface WitnessingStats {
  cosigned: number;
  refused: Partial<Record<WitnessRefusalCode, number>>;
}

interface Lane {
  readonly client: WitnessClient;
  pending: { record: CheckpointRecord; log: TransparentLog } | undefined;
  running: Promise<void> | undefined;
  /** While the witness is unreachable: the pending retry and the next pause. */
  retry: NodeJS.Timeout | undefined;
  /** Failed attempts in a row (the back-off's count). */
  failures: number;
}

export class Witnessing implements CheckpointObserver {
  readonly #lanes: Lane[];
  readonly #store: CosignatureStore;
  readonly #say: (line: string) => void;
  readonly #now: () => Date;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  #closed = false;
  readonly stats: WitnessingStats = { cosigned: 0, refused: {} };

  constructor(options: WitnessingOptions) {
    this.#store = options.store;
    this.#say = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#now = options.now ?? (() => new Date());
    this.#retryMs = options.retryMs ?? 2_000;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
    this.#lanes = options.witnesses.map((endpoint) => {
      const client = new WitnessClient(endpoint, { ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
      client.knownSize = options.store.lastCosignedSize(client.name) ?? 0;
      return { client, pending: undefined, running: undefined, retry: undefined, failures: 0 };
    });
  }

  checkpointed(record: CheckpointRecord, log: TransparentLog): void {
    if (this.#closed) return;
    for (const lane of this.#lanes) {
      if (!lane.pending || lane.pending.record.treeSize < record.treeSize) lane.pending = { record, log };
      lane.running ??= this.#drain(lane).finally(() => (lane.running = undefined));
    }
  }

  /** Resolves when every queued checkpoint has been answered (cosigned or refused). */
  async settled(): Promise<void> {
    for (;;) {
      const running = this.#lanes.flatMap((l) => (l.running ? [l.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** The checkpoint note with every stored cosignature appended. */
  cosignedNote(record: CheckpointRecord): string {
    return `${record.note}${this.#store.linesFor(record.treeSize)}`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const lane of this.#lanes) clearTimeout(lane.retry);
    await this.settled();
  }

  async #drain(lane: Lane): Promise<void> {
    while (lane.pending) {
      const { record, log } = lane.pending;
      lane.pending = undefined;
      try {
        const lines = await lane.client.submit({ note: record.note, treeSize: record.treeSize, consistencyPath: (from) => log.consistencyPath(from, record.treeSize) });
        this.#store.add(record.treeSize, lane.client.name, lines);
        this.stats.cosigned++;
        clearTimeout(lane.retry);
        lane.retry = undefined;
        lane.failures = 0;
      } catch (error) {
        const code: WitnessRefusalCode = error instanceof WitnessRefusedError ? error.code : 'unexpected-answer';
        // A witness that is down (restarting, say) gets the checkpoint again later, unless a newer one is on its way.
        if (code === 'unreachable' && !this.#closed) {
          clearTimeout(lane.retry);
          lane.retry = setTimeout(() => {
            lane.retry = undefined;
            // Not once a newer checkpoint was cosigned: the witness is past it (and would say so with a 409).
            if (this.#closed || lane.client.knownSize >= record.treeSize || lane.pending) return;
            lane.pending = { record, log };
            lane.running ??= this.#drain(lane).finally(() => (lane.running = undefined));
          }, backoffMs(++lane.failures, { baseMs: this.#retryMs, maxMs: this.#maxRetryMs })).unref();
        }
        const message = (error as Error).message;
        this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
        this.#say(`WITNESS REFUSED checkpoint ${record.treeSize} (${code}): ${message}`);
        try {
          this.#store.refuse({ treeSize: record.treeSize, witness: lane.client.name, code, message, at: this.#now().toISOString() });
        } catch (storeError) {
          this.#say(`could not record the refusal: ${(storeError as Error).message}`);
        }
      }
    }
  }
}
