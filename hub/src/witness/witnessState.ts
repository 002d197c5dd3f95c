// What a witness remembers per log origin: the size and root hash of the latest checkpoint it
// cosigned. One JSON file, replaced atomically (temporary file, fsync, rename, fsync of the
// directory) before any cosignature leaves the process, so that a witness killed at any
// moment comes back knowing at least every size it vouched for.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export interface LogState {
  readonly size: number;
  /** Base64 root hash at `size`. */
  readonly rootHash: string;
  /** The checkpoint note it cosigned last (without its cosignature), kept as evidence. */
  readonly note: string;
}

const StateFileSchema = z
  .object({
    version: z.literal(1),
    logs: z.record(z.string(), z.object({ size: z.number().int().nonnegative(), rootHash: z.string().regex(/^[A-Za-z0-9+/]{43}=$/), note: z.string() }).strict()),
  })
  .strict();

export class WitnessStateError extends Error {
  override readonly name = 'WitnessStateError';
  readonly code = 'unreadable-state';
}

export class WitnessState {
  readonly #file: string;
  readonly #dir: string;
  #logs: Record<string, LogState>;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#dir = dir;
    this.#file = path.join(dir, 'witness-state.json');
    this.#logs = {};
    if (existsSync(this.#file)) {
      // A witness that cannot read what it vouched for must not start afresh and cosign a rollback.
      let parsed;
      try {
        parsed = StateFileSchema.safeParse(JSON.parse(readFileSync(this.#file, 'utf8')));
      } catch (error) {
        throw new WitnessStateError(`${this.#file}: ${(error as Error).message}`);
      }
      if (!parsed.success) throw new WitnessStateError(`${this.#file}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      this.#logs = parsed.data.logs;
    }
  }

  get(origin: string): LogState | undefined {
    return Object.hasOwn(this.#logs, origin) ? this.#logs[origin] : undefined;
  }

  /** Records a new latest checkpoint for `origin`; returns once it is durable. */
  put(origin: string, state: LogState): void {
    const next = { ...this.#logs, [origin]: state };
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, logs: next }, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
    const dirFd = openSync(this.#dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.#logs = next;
  }
}
