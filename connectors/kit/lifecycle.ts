// One lifecycle for every running part of the hub and the connectors. A component's failure is
// loud (an error line naming it, a counted failure, the component unhealthy until it succeeds
// again); background work is retried with one back-off policy; a start is an ordered list of
// named steps, rolled back in reverse when one fails; a process ends on a signal or its parent's end.

// A party's process ends cleanly on SIGTERM/SIGINT, and, when a supervisor started it with
// `ELFE_EXIT_WITH_PARENT=1` and a pipe on stdin, also when that supervisor dies (even by
// SIGKILL): the pipe closes, and no child outlives its parent unmanaged.
export function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      // Stop watching the pipe, so that the process can end once its work is closed.
      if (process.env.ELFE_EXIT_WITH_PARENT === '1') process.stdin.destroy();
      resolve(why);
    };
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
    if (process.env.ELFE_EXIT_WITH_PARENT === '1') {
      process.stdin.on('end', () => done('parent gone'));
      process.stdin.on('error', () => done('parent gone'));
      process.stdin.resume();
    }
  });
}

/** The one back-off policy: the pause doubles from `baseMs` per failed attempt, up to `maxMs`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 250, maxMs: 10_000 };

/** The pause after the `attempt`-th failure in a row (1, 2, …). */
export function backoffMs(attempt: number, policy: BackoffPolicy = defaultBackoff): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, backing off with the policy between failures. Each failure
 * goes to `onFailure` (a component's `failed`); after `attempts` failures the last error is
 * thrown; an aborted `signal` ends the waiting with `undefined`.
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  options: { readonly attempts?: number; readonly policy?: BackoffPolicy; readonly signal?: AbortSignal; readonly onFailure?: (error: unknown, n: number) => void } = {},
): Promise<T | undefined> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (options.signal?.aborted) return undefined;
      if (options.attempts !== undefined && n >= options.attempts) throw error;
      options.onFailure?.(error, n);
      await pause(backoffMs(n, options.policy), options.signal);
      if (options.signal?.aborted) return undefined;
    }
  }
}

/** One component's state, as the health endpoint and the dashboard show it. */
export interface ComponentHealth {
  readonly component: string;
  readonly healthy: boolean;
  /** Failures counted since the process started (`elfe_component_failures_total`). */
  readonly failures: number;
  /** The last failure's message (no personal data: components log ids and codes only). */
  readonly lastError?: string;
  /** Since when it fails (ISO time), while unhealthy. */
  readonly failingSince?: string;
}

/** What a component reports about itself. */
export interface Component {
  readonly name: string;
  /** Logs the failure at error level with the component's name, counts it and marks the component unhealthy. */
  failed(error: unknown, fields?: Record<string, unknown>): void;
  /** Marks the component healthy again (after a failure: says so once, at warn level). */
  succeeded(): void;
  /** Throws the fault a test injected into this component, if any (called where its work begins). */
  checkFault(): void;
  health(): ComponentHealth;
}

/** A started component: how to stop it and how it stands. */
export interface Running {
  stop(): Promise<void>;
  health(): ComponentHealth;
}

export interface LoopOptions {
  /** Run `fn` again this long after each success (a periodic job); without it, `fn` is a loop that runs until it returns. */
  readonly everyMs?: number;
  /** Wait this long before the first run (default: a periodic job waits `everyMs`, a loop starts at once). */
  readonly firstAfterMs?: number;
  readonly policy?: BackoffPolicy;
}

/** The running parts of one process (the hub, a connector, the Standesamt's watcher). */
export interface Lifecycle {
  component(name: string): Component;
  /**
   * Background work of a component: `fn` runs, a failure is reported (`failed`) and `fn` runs
   * again after the back-off; a success marks the component healthy. `stop` aborts `signal`
   * and waits for the current run.
   */
  runLoop(name: string, fn: (signal: AbortSignal) => Promise<void>, options?: LoopOptions): Running;
  /** Every component that reported, healthy or not, by name. */
  health(): readonly ComponentHealth[];
  unhealthy(): readonly ComponentHealth[];
  /**
   * Test seam: from now on the component's work fails with `error` (its `checkFault` throws),
   * until called again with `undefined`. Not a configuration option: tests and fault drills only.
   */
  injectFault(name: string, error: Error | undefined): void;
}

/** Where failures and recoveries are told: a pino logger, or an adapter for a connector's own log. */
export interface LifecycleLog {
  error(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500);

export function createLifecycle(options: { readonly logger: LifecycleLog }): Lifecycle {
  const components = new Map<string, Component>();
  const faults = new Map<string, Error>();
  const component = (name: string): Component => {
    const known = components.get(name);
    if (known) return known;
    let failures = 0;
    let lastError: string | undefined;
    let failingSince: Date | undefined;
    const made: Component = {
      name,
      failed(error, fields = {}) {
        failures++;
        lastError = messageOf(error);
        failingSince ??= new Date();
        options.logger.error({ ...fields, event: 'component.failed', component: name, error: lastError, failures }, `${name} failed: ${lastError}`);
      },
      succeeded() {
        if (failingSince === undefined) return;
        options.logger.warn({ event: 'component.recovered', component: name, failingForMs: Date.now() - failingSince.getTime() }, `${name} works again`);
        failingSince = undefined;
      },
      checkFault() {
        const fault = faults.get(name);
        if (fault) throw fault;
      },
      health: () => ({
        component: name,
        healthy: failingSince === undefined,
        failures,
        ...(lastError !== undefined ? { lastError } : {}),
        ...(failingSince ? { failingSince: failingSince.toISOString() } : {}),
      }),
    };
    components.set(name, made);
    return made;
  };
  const health = () => [...components.values()].map((c) => c.health()).sort((a, b) => a.component.localeCompare(b.component));
  return {
    component,
    health,
    unhealthy: () => health().filter((h) => !h.healthy),
    injectFault(name, error) {
      component(name);
      if (error) faults.set(name, error);
      else faults.delete(name);
    },
    runLoop(name, fn, loopOptions = {}) {
      const c = component(name);
      const abort = new AbortController();
      const { signal } = abort;
      const done = (async () => {
        const first = loopOptions.firstAfterMs ?? loopOptions.everyMs ?? 0;
        if (first > 0) await pause(first, signal);
        let failuresInARow = 0;
        while (!signal.aborted) {
          try {
            c.checkFault();
            await fn(signal);
            failuresInARow = 0;
            c.succeeded();
            if (loopOptions.everyMs === undefined) return;
            await pause(loopOptions.everyMs, signal);
          } catch (error) {
            if (signal.aborted) return;
            c.failed(error);
            await pause(backoffMs(++failuresInARow, loopOptions.policy), signal);
          }
        }
      })();
      return {
        health: () => c.health(),
        async stop() {
          abort.abort();
          await done;
        },
      };
    },
  };
}

/** A start step that failed: names the step; the steps before it were stopped again. */
export class StartStepError extends Error {
  override readonly name = 'StartStepError';
  readonly code = 'start-step-failed';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`start step ${step} failed: ${messageOf(cause)}`, { cause });
  }
}

/** A stop of one step that failed (stop goes on with the others). */
export interface StopFailure {
  readonly step: string;
  readonly error: Error;
}

/** What one step leaves running: how to stop it. */
export type StepStop = () => unknown;

/**
 * A start as an ordered list of named steps. `step(name, start)` runs `start`; what it
 * returns with a `stop` is stopped on rollback and on `stop()`, in reverse order, all of them
 * even when some fail (all-settled). When a step throws, the steps before it are stopped and
 * the start fails with a `StartStepError` naming it.
 */
export interface StartSteps {
  step<T>(name: string, start: () => Promise<{ readonly value: T; readonly stop?: StepStop }> | { readonly value: T; readonly stop?: StepStop }): Promise<T>;
  /** The steps begun so far, in order. */
  readonly names: readonly string[];
  /** Stops every started step in reverse; resolves with the failures (none: an empty list). */
  stop(): Promise<StopFailure[]>;
}

export function startSteps(options: {
  /** Test seam: the step of this name throws before it starts (e.g. `ELFE_FAIL_AT_START_STEP`). */
  readonly failAt?: string | undefined;
  /** Told of each failed stop (the start error or the stop's report says the rest). */
  readonly onStopFailed?: (failure: StopFailure) => void;
}): StartSteps {
  const started: { name: string; stop: StepStop }[] = [];
  const names: string[] = [];
  let stopping: Promise<StopFailure[]> | undefined;
  const stopAll = (): Promise<StopFailure[]> =>
    (stopping ??= (async () => {
      const failures: StopFailure[] = [];
      for (const s of started.reverse()) {
        try {
          await s.stop();
        } catch (error) {
          const failure = { step: s.name, error: error instanceof Error ? error : new Error(String(error)) };
          failures.push(failure);
          options.onStopFailed?.(failure);
        }
      }
      return failures;
    })());
  return {
    names,
    async step(name, start) {
      if (stopping) throw new StartStepError(name, new Error('the start was stopped'));
      names.push(name);
      try {
        if (options.failAt === name) throw new Error(`fault injected at start step ${name}`);
        const { value, stop } = await start();
        if (stop) started.push({ name, stop });
        return value;
      } catch (error) {
        await stopAll();
        throw new StartStepError(name, error);
      }
    },
    stop: stopAll,
  };
}
