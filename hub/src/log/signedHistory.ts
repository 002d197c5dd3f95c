// What the hub already signed, kept where cutting the log does not cut it: the latest signed
// checkpoint is also written to `checkpoint.latest` beside the log (a signed note, written to a
// temporary file, fsynced, renamed, the directory fsynced), and the witnesses' cosigned sizes
// are in `cosignatures.sqlite`. At start the hub compares the log and its tree with both; a
// shorter one stops the start (LogHistoryError). Only an operator's decision
// (`elfe hub accept-shorter-log`, a file `accept-shorter-log.json` the next start applies,
// records in the log and appends to `shorter-log-decisions.jsonl`) lets a shorter log go on.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export type LogHistoryErrorCode = 'log-shorter-than-signed' | 'tree-longer-than-log' | 'log-differs-from-signed' | 'signed-checkpoint-unreadable' | 'acceptance-mismatch';

/** The start stops: the log (or its tree) is not a continuation of what the hub already signed. */
export class LogHistoryError extends Error {
  override readonly name = 'LogHistoryError';
  constructor(
    readonly code: LogHistoryErrorCode,
    message: string,
    readonly sizes: { readonly log: number; readonly tree: number; readonly signed?: number; readonly signedBy?: string },
    /** What the operator does about it. */
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The operator's decision that a log of `size` entries continues, though `signedSize` was signed. */
export interface ShorterLogAcceptance {
  readonly size: number;
  readonly signedSize: number;
  readonly signedBy: string;
  readonly reason: string;
  readonly operator: string;
  readonly decidedAt: string;
  /** Set when a start applied it. */
  readonly appliedAt?: string;
  readonly appliedAtPosition?: number;
}

export const historyFiles = (dataDir: string) => ({
  latest: path.join(dataDir, 'checkpoint.latest'),
  acceptance: path.join(dataDir, 'accept-shorter-log.json'),
  decisions: path.join(dataDir, 'shorter-log-decisions.jsonl'),
});

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems do not fsync directories
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replaces `file` durably: a temporary file, fsync, rename, fsync of the directory. */
export function writeFileDurably(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  fsyncDir(path.dirname(file));
}

/** Appends one line durably. */
export function appendLineDurably(file: string, line: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(path.dirname(file));
}

export const readLatestSigned = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

export function readAcceptance(file: string): ShorterLogAcceptance | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ShorterLogAcceptance>;
  if (!Number.isSafeInteger(parsed.size) || typeof parsed.reason !== 'string') throw new Error(`${file} is not an acceptance written by elfe hub accept-shorter-log`);
  return parsed as ShorterLogAcceptance;
}

export function writeAcceptance(file: string, acceptance: ShorterLogAcceptance): void {
  writeFileDurably(file, `${JSON.stringify(acceptance, null, 2)}\n`);
}

/** The decisions applied so far (oldest first). */
export function readDecisions(file: string): ShorterLogAcceptance[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as ShorterLogAcceptance);
}

/** Moves a pending acceptance into the decisions file, once applied. */
export function recordDecision(files: ReturnType<typeof historyFiles>, applied: ShorterLogAcceptance): void {
  appendLineDurably(files.decisions, JSON.stringify(applied));
  unlinkSync(files.acceptance);
  fsyncDir(path.dirname(files.acceptance));
}
