import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes; tests pass their own to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal (progress bars, colours). */
  readonly isTTY: boolean;
}

/** One `elfe` subcommand, e.g. `elfe xml parse`. */
export interface Command {
  /** Words after `elfe`, e.g. `['xml', 'parse']`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: Io): Promise<number>;
}

/** Exit codes shared by every command. */
export const exitCode = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  usage: 64,
} as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

/** `parseArgs` with positionals, whose errors become usage errors. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
