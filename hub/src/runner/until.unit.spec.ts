import { describe, expect, it } from 'vitest';
import { until, UntilTimeoutError } from './until.ts';

describe('until', () => {
  it('resolves with the first truthy value the check returns', async () => {
    let n = 0;
    const got = await until(() => (++n >= 3 ? { n } : undefined), { intervalMs: 1 });
    expect(got).toEqual({ n: 3 });
  });

  it('times out with what was awaited and the last observed value in the error', async () => {
    let n = 0;
    const error = await until(() => ++n > 1_000_000, { what: 'a million polls', timeoutMs: 60, intervalMs: 5, observe: () => ({ polls: n }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UntilTimeoutError);
    expect((error as UntilTimeoutError).code).toBe('until-timeout');
    expect((error as UntilTimeoutError).lastObserved).toEqual({ polls: n });
    expect((error as Error).message).toMatch(new RegExp(`^a million polls not reached within 60 ms; last observed: \\{ polls: ${n} \\}$`));
  });

  it('without an observer reports the last value the check returned, and without a description the check itself', async () => {
    const inbox: string[] = ['a.xml'];
    const error = (await until(() => inbox.length >= 2 && inbox, { timeoutMs: 30, intervalMs: 5 }).catch((e: unknown) => e)) as UntilTimeoutError;
    expect(error.message).toBe('inbox.length >= 2 && inbox not reached within 30 ms; last observed: false');
  });

  it('checks once more at the deadline, not only before it', async () => {
    const start = Date.now();
    const got = await until(() => Date.now() - start >= 40 && 'late', { timeoutMs: 40, intervalMs: 1_000 });
    expect(got).toBe('late');
  });

  it('passes a thrown error on and stops polling', async () => {
    let calls = 0;
    const boom = new Error('boom');
    await expect(
      until(() => {
        calls++;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});
