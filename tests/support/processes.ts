// Parties as an operator runs them: `elfe …` commands as separate processes, started, killed
// (SIGKILL included) and started again with the same command line.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const elfeBin = path.join(repoRoot, 'bin', 'elfe.js');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one `elfe` command to its end. */
export function runElfe(args: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [elfeBin, ...args], { cwd: options.cwd ?? repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A long-running `elfe` command (a party's process). */
export class ElfeProcess {
  #child!: ChildProcess;
  #output = '';
  #stderr = '';
  constructor(
    readonly name: string,
    readonly args: readonly string[],
  ) {
    this.start();
  }

  start(): void {
    this.#output = '';
    this.#child = spawn(process.execPath, [elfeBin, ...this.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => {
      this.#output = (this.#output + d.toString()).slice(-200_000);
    };
    this.#stderr = '';
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-200_000);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

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

  /** Waits until the process printed a line matching `pattern`. */
  async ready(pattern = /^ready:/m, timeoutMs = 60_000): Promise<void> {
    await until(() => pattern.test(this.#output) || !this.running, timeoutMs, `${this.name} ready`);
    if (!pattern.test(this.#output)) throw new Error(`${this.name} exited before it was ready:\n${this.#output}`);
  }

  /** Sends a signal and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill(signal);
    await exited;
  }

  /** SIGKILL, then the same command line again. */
  async crashAndRestart(pattern = /^ready:/m): Promise<void> {
    await this.kill('SIGKILL');
    this.start();
    await this.ready(pattern);
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
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

export const filesIn = (dir: string, pattern = /^[^.]/): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)) : []);
