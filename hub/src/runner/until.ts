// Waiting on a condition, for the exchange runner, the tests, the bench and the soak: one poll
// loop with a deadline. A timeout names what was awaited and what was last seen, so a red run
// says how far it got instead of only that it did not get there.
import { inspect } from 'node:util';

export interface UntilOptions {
  /** What is awaited, for the timeout's message; the check's source text when left out. */
  readonly what?: string;
  /** Default 20 s. */
  readonly timeoutMs?: number;
  /** Pause between two checks; default 50 ms. */
  readonly intervalMs?: number;
  /** What to report as last observed (e.g. a count) when the check itself only says yes or no. */
  readonly observe?: () => unknown;
}

/** A condition not reached in time: `what`, the time allowed and the last observed value. */
export class UntilTimeoutError extends Error {
  override readonly name = 'UntilTimeoutError';
  readonly code = 'until-timeout';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastObserved: unknown,
  ) {
    super(`${what} not reached within ${timeoutMs} ms; last observed: ${inspect(lastObserved, { depth: 3, breakLength: Infinity, maxStringLength: 2000 })}`);
  }
}

const describe = (check: () => unknown): string => {
  const text = check.toString().replace(/\s+/g, ' ').replace(/^(async )?\(\) => /, '');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
};

/**
 * Calls `check` until it returns a truthy value and resolves with that value; a check that
 * throws ends the wait with its error. Rejects with {@link UntilTimeoutError} once
 * `timeoutMs` passed without a truthy value.
 */
export async function until<T>(check: () => T | Promise<T>, options: UntilOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new UntilTimeoutError(options.what ?? describe(check), timeoutMs, options.observe ? options.observe() : value);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(intervalMs, deadline - Date.now()))));
  }
}
