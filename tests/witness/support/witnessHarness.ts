// Runs `elfe witness …` and `elfe audit …` as real processes for the witness tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../support/fixtures.ts';

const entry = [path.join(repoRoot, 'bin/run-ts.js'), path.join(repoRoot, 'tests/witness/support/elfe.ts')];

export const elfe = (...args: string[]) => spawnSync(process.execPath, [...entry, ...args], { encoding: 'utf8', cwd: repoRoot });

export class WitnessProcess {
  #child!: ChildProcess;
  #output = '';
  port = 0;
  constructor(readonly args: readonly string[]) {}

  async start(): Promise<this> {
    this.#output = '';
    this.#child = spawn(process.execPath, [...entry, 'witness', 'start', ...this.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = this.#child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`witness not ready:\n${this.#output}`)), 30_000);
      const collect = (d: Buffer) => {
        this.#output += d.toString();
        const m = /^ready: .* on http:\/\/127\.0\.0\.1:(\d+) /m.exec(this.#output);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolve();
        }
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`witness exited:\n${this.#output}`));
      });
    });
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.#output;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill(signal);
    await exited;
  }
}
