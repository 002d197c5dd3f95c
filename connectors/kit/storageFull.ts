// A full disk, told apart from other failures: the hub's log and a connector's inbox meet it
// the same way. A write refused for lack of space (ENOSPC, EDQUOT, SQLite's SQLITE_FULL, or an
// SQLite I/O error while the file system has next to nothing left) becomes a StorageFullError
// naming where; nothing is acknowledged on it, and the same write succeeds once space is back.
// `StorageEpisodes` reports a full disk once per episode (its first refused write) and its end
// (the first write that succeeds again), and counts the refused writes for a metric.
import { statfsSync } from 'node:fs';
import path from 'node:path';

/** A write refused because the file system holding `path` is full. */
export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';
  readonly code = 'storage-full';
  constructor(
    /** The file or directory that could not be written. */
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`no space left for ${path}${options?.cause instanceof Error ? ` (${options.cause.message})` : ''}`, options);
  }
}

/** Below this many free bytes, an SQLite I/O error counts as a full disk. */
const nearlyFullBytes = 1024 * 1024;

/** Bytes the unprivileged may still write on the file system of `file` (undefined: unknown). */
export function freeBytes(file: string): number | undefined {
  for (let dir = path.resolve(file); ; dir = path.dirname(dir)) {
    try {
      const fs = statfsSync(dir);
      return fs.bavail * fs.bsize;
    } catch {
      if (dir === path.dirname(dir)) return undefined;
    }
  }
}

/** Whether `error` says the disk (of `file`, when given) is full. */
export function isStorageFull(error: unknown, file?: string): boolean {
  if (error instanceof StorageFullError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  // SQLite reports a failed write of its WAL index or journal as an I/O error, without errno.
  if (file && typeof code === 'string' && code.startsWith('SQLITE_IOERR')) {
    const free = freeBytes(file);
    return free !== undefined && free < nearlyFullBytes;
  }
  return false;
}

/** `error` as a StorageFullError when it says the disk of `file` is full; otherwise unchanged. */
export function asStorageFull(error: unknown, file: string): unknown {
  return isStorageFull(error, file) && !(error instanceof StorageFullError) ? new StorageFullError(file, { cause: error }) : error;
}

export interface StorageEpisodeReport {
  /** The first write refused since the disk had space (or since the start). */
  full(error: unknown, where: string): void;
  /** The first write that succeeded after refused ones. */
  recovered(refused: number, fullForMs: number): void;
}

/** Full-disk episodes: each reported once when it starts and once when it ends; refused writes counted. */
export class StorageEpisodes {
  #report: StorageEpisodeReport | undefined;
  #since: number | undefined;
  #refusedNow = 0;
  readonly #seen = new WeakSet<object>();
  /** Writes refused for lack of space, ever. */
  refused = 0;
  /** Episodes begun. */
  episodes = 0;

  constructor(report?: StorageEpisodeReport) {
    this.#report = report;
  }

  /** Where episodes are reported (the hub sets its logger once it has one). */
  reportTo(report: StorageEpisodeReport | undefined): void {
    this.#report = report;
  }

  get full(): boolean {
    return this.#since !== undefined;
  }

  /** Counts `error` if it says the disk is full (each error object once); tells whether it does. */
  failed(error: unknown, where: string, file?: string): boolean {
    if (!isStorageFull(error, file)) return false;
    if (typeof error === 'object' && error !== null) {
      if (this.#seen.has(error)) return true;
      this.#seen.add(error);
    }
    this.refused++;
    this.#refusedNow++;
    if (this.#since === undefined) {
      this.#since = Date.now();
      this.episodes++;
      this.#report?.full(error, where);
    }
    return true;
  }

  /** A write succeeded: ends an episode. */
  succeeded(): void {
    if (this.#since === undefined) return;
    const fullForMs = Date.now() - this.#since;
    const refused = this.#refusedNow;
    this.#since = undefined;
    this.#refusedNow = 0;
    this.#report?.recovered(refused, fullForMs);
  }
}
