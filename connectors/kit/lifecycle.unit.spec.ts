import { describe, expect, it } from 'vitest';
import { backoffMs, createLifecycle, retry, startSteps, StartStepError } from './lifecycle.ts';

const silent = { error: () => undefined, warn: () => undefined };

describe('lifecycle', () => {
  it('one back-off policy: doubling from the base, capped', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, { baseMs: 100, maxMs: 1000 }))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('retry reports each failure and gives the last error after the attempts', async () => {
    const failures: number[] = [];
    await expect(retry(() => Promise.reject(new Error('no')), { attempts: 3, policy: { baseMs: 1, maxMs: 1 }, onFailure: (_e, n) => failures.push(n) })).rejects.toThrow('no');
    expect(failures).toEqual([1, 2]);
  });

  it('stop runs every step in reverse, even when one fails, and reports those that failed', async () => {
    const stopped: string[] = [];
    const steps = startSteps({});
    for (const name of ['a', 'b', 'c']) {
      await steps.step(name, () => ({
        value: name,
        stop: () => {
          stopped.push(name);
          if (name === 'b') throw new Error('b would not stop');
        },
      }));
    }
    const failures = await steps.stop();
    expect(stopped).toEqual(['c', 'b', 'a']);
    expect(failures.map((f) => [f.step, f.error.message])).toEqual([['b', 'b would not stop']]);
  });

  it('a failing step stops the steps before it and is named in the error', async () => {
    const stopped: string[] = [];
    const steps = startSteps({ failAt: 'c' });
    await steps.step('a', () => ({ value: 1, stop: () => stopped.push('a') }));
    await steps.step('b', () => ({ value: 2, stop: () => stopped.push('b') }));
    const error = await steps.step('c', () => ({ value: 3 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartStepError);
    expect(error).toMatchObject({ code: 'start-step-failed', step: 'c' });
    expect(stopped).toEqual(['b', 'a']);
  });

  it('a loop that fails is unhealthy and counted until a run succeeds', async () => {
    const lifecycle = createLifecycle({ logger: silent });
    let failing = true;
    const loop = lifecycle.runLoop('job', async () => {
      if (failing) throw new Error('down');
    }, { everyMs: 5, policy: { baseMs: 5, maxMs: 5 } });
    while (loop.health().failures < 2) await new Promise((r) => setTimeout(r, 5));
    expect(loop.health()).toMatchObject({ healthy: false, lastError: 'down' });
    failing = false;
    while (!loop.health().healthy) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    expect(lifecycle.unhealthy()).toEqual([]);
  });
});
