// Parties as an operator runs them: `elfe …` commands as separate processes, started, killed
// (SIGKILL included) and started again with the same command line.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
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

export interface PartyProcessOptions {
  /** The line that says the party is ready; default `ready:` at a line's start. */
  readonly readyPattern?: RegExp;
  /** Extra options for node, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

/** A long-running `elfe` command (a party's process), started at construction. */
export class PartyProcess {
  #child!: ChildProcess;
  #output = '';
  #stderr = '';
  #ready = false;
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
    this.#output = '';
    this.#stderr = '';
    this.#ready = false;
    this.starts++;
    this.#child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), elfeBin, ...this.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => {
      this.#output += d.toString();
      // Seen once, ready stays true for this start (the line may scroll out of the kept tail).
      if (!this.#ready && this.readyPattern.test(this.#output)) this.#ready = true;
      this.#output = this.#output.slice(-200_000);
      this.history = (this.history + d.toString()).slice(-400_000);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-200_000);
    });
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
    await until(() => seen() || !this.running, { timeoutMs, what: `${this.name} ready (${pattern})`, observe: () => this.#output.slice(-2000) });
    if (!seen()) throw new Error(`${this.name} exited before it was ready:\n${this.#output.slice(-4000)}`);
  }

  /** Sends a signal and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill(signal);
    await exited;
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
