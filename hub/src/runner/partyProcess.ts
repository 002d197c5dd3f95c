// Parties as an operator runs them: `elfe …` commands as separate processes, started, killed
// (SIGKILL included) and started again with the same command line. With a restart policy, a
// party that ends on its own is started again after a growing pause; one that keeps dying soon
// after its start (or refuses to start: exit 2, a named start error) is given up after a
// bounded number of tries: `failed` settles with its last lines, and waits for its ready line
// fail with a ChildGaveUpError.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { backoffMs } from '../../../connectors/kit/lifecycle.ts';
import { repoRoot } from '../infra/repoRoot.ts';
import { until } from './until.ts';

const elfeBin = path.join(repoRoot, 'bin', 'elfe.js');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one `elfe` command to its end. */
export function runElfe(args: readonly string[], options: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [elfeBin, ...args], { cwd: options.cwd ?? repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`elfe ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A party the restart policy gave up. */
export interface ChildGivenUp {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly tries: number;
  /** Its last lines (stdout and stderr), oldest first. */
  readonly lastLines: readonly string[];
  /** True when it refused to start (exit 2): restarting would not help. */
  readonly refused: boolean;
}

/** A party given up, as a typed error (`elfe start` and the demo end with it). */
export class ChildGaveUpError extends Error {
  override readonly name = 'ChildGaveUpError';
  readonly code: 'child-refused-to-start' | 'child-crash-loop';
  readonly hint: string;
  constructor(readonly given: ChildGivenUp) {
    super(given.refused ? `${given.name} refused to start: ${reasonOf(given)}` : `${given.name} died ${given.tries} times in a row soon after starting; gave up. Its last line: ${reasonOf(given)}`);
    this.code = given.refused ? 'child-refused-to-start' : 'child-crash-loop';
    this.hint = given.refused ? `correct what it names, then start again; elfe ${given.name === 'hub' ? 'hub start' : 'connector …'} --help lists the options` : `its last lines are above; run it alone to see it fail (the command line is in the log)`;
  }
}

/** A start error's line (`error (code): …` or `{"error":…}`) among a party's last lines, else its last line. */
export function reasonOf(given: ChildGivenUp): string {
  const lines = given.lastLines.filter((l) => l.trim() !== '');
  const named = [...lines].reverse().find((l) => /^error \(|^\{"error":/.test(l));
  if (named) return named;
  const logged = [...lines].reverse().find((l) => /"level":(50|60)/.test(l));
  return logged ?? lines.at(-1) ?? `exited (code ${given.code}, signal ${given.signal})`;
}

export interface RestartPolicy {
  /** Quick deaths in a row (each within 30 s of its start) before the party is given up; default 5. */
  readonly maxTries?: number;
  /** Told when the party is given up. */
  readonly onGiveUp?: (given: ChildGivenUp) => void;
}

export interface PartyProcessOptions {
  /** The line that says the party is ready; default `ready:` at a line's start. */
  readonly readyPattern?: RegExp;
  /** Extra options for node, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** Each line the party writes (stdout and stderr), and the restart policy's own lines. */
  readonly onLine?: (line: string) => void;
  /** Start the party again when it ends on its own (not by `kill`). */
  readonly restart?: RestartPolicy;
  /** The party ends when this process ends, even by SIGKILL (it watches a pipe from here). */
  readonly exitWithParent?: boolean;
}

/** A death within this long of its start counts towards giving up. */
const quickDeathMs = 30_000;

/** A long-running `elfe` command (a party's process), started at construction. */
export class PartyProcess {
  #child!: ChildProcess;
  #output = '';
  #stderr = '';
  #ready = false;
  /** Ended by `kill`: not started again. */
  #killed = false;
  #attempt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #givenUp: ChildGivenUp | undefined;
  #giveUp!: (given: ChildGivenUp) => void;
  readonly #failed = new Promise<ChildGivenUp>((resolve) => (this.#giveUp = resolve));
  /** Output of every start, the last 400 kB (for a failure report). */
  history = '';
  starts = 0;
  readonly readyPattern: RegExp;
  constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly options: PartyProcessOptions = {},
  ) {
    this.readyPattern = options.readyPattern ?? /^ready:/m;
    this.start();
  }

  /** Starts the command again (after it ended). */
  start(): void {
    clearTimeout(this.#restartTimer);
    this.#attempt = 0;
    this.#spawn();
  }

  #spawn(): void {
    this.#output = '';
    this.#stderr = '';
    this.#ready = false;
    this.#killed = false;
    this.starts++;
    const startedAt = Date.now();
    const env = this.options.exitWithParent ? { ...process.env, ELFE_EXIT_WITH_PARENT: '1' } : process.env;
    this.#child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), elfeBin, ...this.args], { cwd: repoRoot, env, stdio: [this.options.exitWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => this.#collect(d.toString());
    this.#child.stdout?.on('data', this.#lines(collect));
    this.#child.stderr?.on('data', this.#lines(collect));
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-200_000);
    });
    this.#child.once('exit', (code, signal) => this.#exited(code, signal, startedAt));
  }

  #collect(text: string): void {
    this.#output += text;
    // Seen once, ready stays true for this start (the line may scroll out of the kept tail).
    if (!this.#ready && this.readyPattern.test(this.#output)) this.#ready = true;
    this.#output = this.#output.slice(-200_000);
    this.history = (this.history + text).slice(-400_000);
  }

  /** Passes each chunk on, and each complete line to `onLine`. */
  #lines(collect: (d: Buffer) => void): (d: Buffer) => void {
    const onLine = this.options.onLine;
    let buffer = '';
    return (d) => {
      collect(d);
      if (!onLine) return;
      buffer += d.toString();
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        onLine(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
      }
    };
  }

  /** A line of the restart policy's own, kept with the party's output. */
  #say(line: string): void {
    this.#collect(`${line}\n`);
    this.options.onLine?.(line);
  }

  #exited(code: number | null, signal: NodeJS.Signals | null, startedAt: number): void {
    if (this.#killed) return;
    this.#say(`exited (code ${code}, signal ${signal})`);
    const policy = this.options.restart;
    if (!policy) return;
    const next = Date.now() - startedAt > quickDeathMs ? 0 : this.#attempt + 1;
    // Exit 2 is a named start error (configuration, identity, busy port): it would fail again.
    if (code === 2 || next >= (policy.maxTries ?? 5)) {
      const given: ChildGivenUp = { name: this.name, code, signal, tries: next, lastLines: this.#output.split('\n').filter((l) => l !== '').slice(-20), refused: code === 2 };
      this.#givenUp = given;
      policy.onGiveUp?.(given);
      this.#giveUp(given);
      return;
    }
    const pause = backoffMs(next + 1, { baseMs: 250, maxMs: 10_000 });
    this.#say(`starting again in ${pause} ms`);
    this.#attempt = next;
    this.#restartTimer = setTimeout(() => {
      if (!this.#killed) this.#spawn();
    }, pause);
    this.#restartTimer.unref();
  }

  /** Settles when the restart policy gave the party up (it crash-looped, or refused to start). */
  get failed(): Promise<ChildGivenUp> {
    return this.#failed;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** What the process wrote (stdout and stderr) since its last start, the last 200 kB. */
  get output(): string {
    return this.#output;
  }

  /** What the process wrote on stderr since its last start (its log). */
  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Running, and it printed its ready line since its last start. */
  get isReady(): boolean {
    return this.running && this.#ready;
  }

  /** Waits until the process printed a line matching `pattern` (its ready line unless told otherwise). */
  async ready(pattern: RegExp = this.readyPattern, timeoutMs = 120_000): Promise<void> {
    const seen = () => (pattern === this.readyPattern ? this.#ready : pattern.test(this.#output));
    // With a restart policy an exit is not the end: only being given up is.
    const over = () => (this.options.restart ? this.#givenUp !== undefined : !this.running);
    await until(() => seen() || over(), { timeoutMs, what: `${this.name} ready (${pattern})`, observe: () => this.#output.slice(-2000) });
    if (seen()) return;
    if (this.#givenUp) throw new ChildGaveUpError(this.#givenUp);
    throw new Error(`${this.name} exited before it was ready:\n${this.#output.slice(-4000)}`);
  }

  /** Sends a signal and waits until the process is gone (SIGKILL after `forceAfterMs`); it is not started again until `start`. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', forceAfterMs?: number): Promise<void> {
    this.#killed = true;
    clearTimeout(this.#restartTimer);
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill(signal);
    const force = forceAfterMs === undefined ? undefined : setTimeout(() => this.#child.kill('SIGKILL'), forceAfterMs);
    await exited;
    clearTimeout(force);
  }

  /** Sends a signal without waiting, as a crash from outside would (with a restart policy, the party comes back). */
  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** SIGKILL, then the same command line again, until it is ready. */
  async crashAndRestart(pattern: RegExp = this.readyPattern): Promise<void> {
    await this.kill('SIGKILL');
    this.start();
    await this.ready(pattern);
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line contains `needle` (Linux /proc). */
export function pidsWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** VmRSS (bytes) and open file descriptors of a live process, from /proc; undefined when it is gone. */
export function procSample(pid: number): { rss: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return Number.isFinite(kb) ? { rss: kb * 1024, fds } : undefined;
  } catch {
    return undefined;
  }
}

export const filesIn = (dir: string, pattern = /^[^.]/): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)) : []);
