// The soak's parties as an operator runs them: `elfe …` commands as separate processes, killed
// with SIGKILL and started again with the same command line. (bench/ does not import from
// tests/, so this is the soak's own small copy of the idea of tests/support/processes.ts.)
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
export function runElfe(args: readonly string[], timeoutMs = 120_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [elfeBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`elfe ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `elfe` command (a party's process). */
export class PartyProcess {
  #child!: ChildProcess;
  #output = '';
  /** Output of every start, the last 400 kB (for a failure report). */
  history = '';
  starts = 0;
  constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly readyPattern: RegExp = /^ready:/m,
  ) {
    this.start();
  }

  #ready = false;

  start(): void {
    this.#output = '';
    this.#ready = false;
    this.starts++;
    this.#child = spawn(process.execPath, [elfeBin, ...this.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => {
      this.#output += d.toString();
      // Seen once, ready stays true for this start (the line scrolls out of the kept tail).
      if (!this.#ready && this.readyPattern.test(this.#output)) this.#ready = true;
      this.#output = this.#output.slice(-100_000);
      this.history = (this.history + d.toString()).slice(-400_000);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get isReady(): boolean {
    return this.running && this.#ready;
  }

  async ready(timeoutMs = 120_000): Promise<void> {
    await until(() => this.#ready || !this.running, timeoutMs, `${this.name} ready`);
    if (!this.#ready) throw new Error(`${this.name} exited before it was ready:\n${this.#output.slice(-4000)}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill(signal);
    await exited;
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
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

export const filesIn = (dir: string, pattern = /^[^.]/): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)) : []);

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
