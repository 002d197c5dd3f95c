// The hub's witnessing: every checkpoint the log signs goes to each configured witness (one
// submission at a time per witness; a newer checkpoint supersedes a queued older one). Returned
// cosignatures are stored with their checkpoint; a refusal is loud: a log line, a counter, and
// a row in the cosignature store that survives restarts.
import type { CheckpointObserver, CheckpointRecord, TransparentLog } from '../log/transparentLog.ts';
import type { CosignatureStore } from './cosignatureStore.ts';
import { WitnessClient, WitnessRefusedError, type WitnessEndpoint, type WitnessRefusalCode } from './witnessClient.ts';
import { backoffMs } from '../../../connectors/kit/lifecycle.ts';

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
