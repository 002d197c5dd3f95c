import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes; tests pass their own to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal (progress bars, colours). */
  readonly isTTY: boolean;
}

/** One option of a command, as `--help` shows it. */
export interface OptionHelp {
  /** As typed, with its value's placeholder: `--data DIR`, `--json`. */
  readonly flag: string;
  readonly text: string;
  /** What applies without it. */
  readonly default?: string;
}

/** What `elfe <command> --help` shows beyond the usage line (kept in the build's manifest). */
export interface CommandHelp {
  readonly options?: readonly OptionHelp[];
  /** Further paragraphs: valid roles, address forms, files read and written. */
  readonly notes?: readonly string[];
  /** One or more example command lines. */
  readonly examples?: readonly string[];
}

/** One `elfe` subcommand, e.g. `elfe xml parse`. */
export interface Command extends CommandHelp {
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

/** `elfe <command> --help`: usage, summary, options with defaults, notes and examples. */
export function renderHelp(command: Command): string {
  const lines = [`Usage: ${command.usage}`, '', command.summary];
  if (command.options && command.options.length > 0) {
    lines.push('', 'Options:');
    const width = Math.min(28, Math.max(...command.options.map((o) => o.flag.length)));
    for (const o of command.options) {
      const text = `${o.text}${o.default === 'required' ? ' (required)' : o.default !== undefined ? ` (default: ${o.default})` : ''}`;
      lines.push(o.flag.length > width ? `  ${o.flag}\n  ${''.padEnd(width)}  ${text}` : `  ${o.flag.padEnd(width)}  ${text}`);
    }
  }
  for (const note of command.notes ?? []) lines.push('', note);
  if (command.examples && command.examples.length > 0) lines.push('', command.examples.length > 1 ? 'Examples:' : 'Example:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Hints for typed errors that carry none of their own. */
const hints: Record<string, string> = {
  'invalid-config': 'correct the named field or file; elfe <command> --help lists the options, the README the configuration keys',
  'data-dir-locked': 'another process uses this data directory: stop it, or give this one another directory',
  'dependency-unavailable': 'start what it waits for (the hub: elfe hub start), or correct nats.url in the configuration',
  missing: 'make the key and certificate first: elfe pki request … --out DIR, then elfe pki sign on the CA',
  'port-in-use': 'stop the other process, or choose another port',
  EADDRINUSE: 'another process listens on that port: stop it, or choose another port',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s: correct the host in the configuration',
  ENOENT: 'a file or directory it names does not exist: correct the path',
  EACCES: 'no permission for the file, directory or port it names (ports below 1024 need root)',
  EISDIR: 'a directory where a file was expected: correct the path',
};

/**
 * A typed error (one with a string `code`) on stderr: `{"error":{code,message,hint}}` with
 * `json`, else one readable line. Returns the exit code of a failed start (2).
 */
export function reportError(io: Io, error: Error & { code?: unknown; hint?: unknown }, json: boolean): number {
  const code = typeof error.code === 'string' ? error.code : 'internal';
  const hint = typeof error.hint === 'string' ? error.hint : hints[code];
  const message = error.message.split('\n')[0] ?? '';
  if (json) io.err(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
  else io.err(`error (${code}): ${message}${hint ? `. What to do: ${hint}` : ''}`);
  return exitCode.invalidInput;
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
