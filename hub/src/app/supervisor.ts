// Runs parties as child processes with their own command lines (`elfe hub start …`,
// `elfe connector … `), restarts one that dies with a growing pause, and stops them all on
// stop. Each child watches a pipe from this process, so it ends when this process ends, even
// by SIGKILL: no child outlives its parent unmanaged.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../infra/repoRoot.ts';

const elfeBin = path.join(repoRoot, 'bin', 'elfe.js');

export interface ProcessSpec {
  readonly name: string;
  /** Arguments after `elfe`. */
  readonly args: readonly string[];
}

export interface Supervisor {
  pid(name: string): number | undefined;
  /** Sends a signal to one child (fault tests); with restart on, it comes back. */
  signal(name: string, signal: NodeJS.Signals): void;
  /** Resolves when the named child printed a line matching `pattern` (e.g. its ready line). */
  waitFor(name: string, pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function superviseProcesses(
  specs: readonly ProcessSpec[],
  options: { log: (name: string, line: string) => void; restart?: boolean; env?: NodeJS.ProcessEnv; /** Extra options for node, e.g. `--cpu-prof`. */ nodeArgs?: readonly string[] },
): Supervisor {
  const children = new Map<string, ChildProcess>();
  const waiters: { name: string; pattern: RegExp; resolve: (line: string) => void }[] = [];
  // What each child printed since it last started, so a wait for a line printed earlier still sees it.
  const seen = new Map<string, string[]>();
  let stopping = false;
  const start = (spec: ProcessSpec, attempt: number) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), elfeBin, ...spec.args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env, ELFE_EXIT_WITH_PARENT: '1' } });
    children.set(spec.name, child);
    seen.set(spec.name, []);
    const lines = (stream: NodeJS.ReadableStream | null) => {
      let buffer = '';
      stream?.on('data', (d: Buffer) => {
        buffer += d.toString();
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          options.log(spec.name, line);
          const history = seen.get(spec.name)!;
          history.push(line);
          if (history.length > 500) history.shift();
          for (const w of waiters.filter((w) => w.name === spec.name && w.pattern.test(line))) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      });
    };
    lines(child.stdout);
    lines(child.stderr);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (stopping) return;
      options.log(spec.name, `exited (code ${code}, signal ${signal})`);
      if (!options.restart) return;
      const next = Date.now() - startedAt > 30_000 ? 0 : attempt + 1;
      const pause = Math.min(10_000, 250 * 2 ** next);
      options.log(spec.name, `starting again in ${pause} ms`);
      setTimeout(() => {
        if (!stopping) start(spec, next);
      }, pause).unref();
    });
  };
  specs.forEach((s) => start(s, 0));
  return {
    pid: (name) => children.get(name)?.pid,
    signal(name, signal) {
      children.get(name)?.kill(signal);
    },
    waitFor(name, pattern, timeoutMs = 60_000) {
      const earlier = seen.get(name)?.find((line) => pattern.test(line));
      if (earlier !== undefined) return Promise.resolve(earlier);
      return new Promise((resolve, reject) => {
        const waiter = { name, pattern, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async stop() {
      stopping = true;
      await Promise.all(
        [...children.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
            }),
        ),
      );
    },
  };
}
