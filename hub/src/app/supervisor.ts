// Runs parties as child processes with their own command lines (`elfe hub start …`,
// `elfe connector … `), restarts one that dies with a growing pause, and stops them all on
// stop. A child that keeps dying soon after its start (or refuses to start: exit 2, a named
// start error) is given up after a bounded number of tries: `failed` settles with its last
// lines, and waits for its lines fail; the caller stops the others. Each child watches a pipe from this process, so it ends when this process ends, even
// by SIGKILL: no child outlives its parent unmanaged.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../infra/repoRoot.ts';
import { backoffMs } from '../../../connectors/kit/lifecycle.ts';

const elfeBin = path.join(repoRoot, 'bin', 'elfe.js');

export interface ProcessSpec {
  readonly name: string;
  /** Arguments after `elfe`. */
  readonly args: readonly string[];
}

export interface Supervisor {
  pid(name: string): number | undefined;
  /** Starts more children (e.g. the parties once the hub is ready: no retries against a NATS that is not there yet). */
  add(specs: readonly ProcessSpec[]): void;
  /** Sends a signal to one child (fault tests); with restart on, it comes back. */
  signal(name: string, signal: NodeJS.Signals): void;
  /** Resolves when the named child printed a line matching `pattern` (e.g. its ready line). */
  waitFor(name: string, pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
  /** Settles when a child was given up (it crash-looped, or refused to start). */
  readonly failed: Promise<ChildGivenUp>;
}

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

/** A child the supervisor gave up, as a typed error (`elfe start` and the demo end with it). */
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

/** A start error's line (`error (code): …` or `{"error":…}`) among a child's last lines, else its last line. */
export function reasonOf(given: ChildGivenUp): string {
  const lines = given.lastLines.filter((l) => l.trim() !== '');
  const named = [...lines].reverse().find((l) => /^error \(|^\{"error":/.test(l));
  if (named) return named;
  const logged = [...lines].reverse().find((l) => /"level":(50|60)/.test(l));
  return logged ?? lines.at(-1) ?? `exited (code ${given.code}, signal ${given.signal})`;
}

export function superviseProcesses(
  specs: readonly ProcessSpec[],
  options: {
    log: (name: string, line: string) => void;
    restart?: boolean;
    env?: NodeJS.ProcessEnv;
    /** Extra options for node, e.g. `--cpu-prof`. */
    nodeArgs?: readonly string[];
    /** Quick deaths in a row (each within 30 s of its start) before a child is given up; default 5. */
    maxTries?: number;
    /** Told when a child is given up (before the others are stopped). */
    onGiveUp?: (given: ChildGivenUp) => void;
  },
): Supervisor {
  const maxTries = options.maxTries ?? 5;
  let giveUp!: (given: ChildGivenUp) => void;
  const failed = new Promise<ChildGivenUp>((resolve) => (giveUp = resolve));
  // Nobody needs to listen: a supervisor without a caller that waits on it does not crash.
  failed.catch(() => undefined);
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
      // Exit 2 is a named start error (configuration, identity, busy port): it would fail again.
      if (code === 2 || next >= maxTries) {
        const given: ChildGivenUp = { name: spec.name, code, signal, tries: next, lastLines: (seen.get(spec.name) ?? []).slice(-20), refused: code === 2 };
        options.onGiveUp?.(given);
        giveUp(given);
        return;
      }
      const pause = backoffMs(next + 1, { baseMs: 250, maxMs: 10_000 });
      options.log(spec.name, `starting again in ${pause} ms`);
      setTimeout(() => {
        if (!stopping) start(spec, next);
      }, pause).unref();
    });
  };
  specs.forEach((s) => start(s, 0));
  return {
    failed,
    pid: (name) => children.get(name)?.pid,
    add(more) {
      if (!stopping) more.forEach((s) => start(s, 0));
    },
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
        void failed.then((given) => {
          if (given.name !== name || !waiters.includes(waiter)) return;
          waiters.splice(waiters.indexOf(waiter), 1);
          clearTimeout(timer);
          reject(new ChildGaveUpError(given));
        });
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
