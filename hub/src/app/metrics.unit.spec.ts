// The hub's event-loop delay metric: a held-up loop shows in the next scrape, and only in it.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { eventLoopDelayMetrics, renderMetrics } from './metrics.ts';

const maxOf = (metrics: ReturnType<ReturnType<typeof eventLoopDelayMetrics>['scrape']>) => metrics[0]!.samples.find((s) => s.labels?.quantile === '1')!.value;

describe('event-loop delay metric', () => {
  it('reports a loop held up for 150 ms in the next scrape, and starts afresh after it', async () => {
    const { scrape, stop } = eventLoopDelayMetrics();
    await sleep(50);
    scrape();
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // Held up, as a long synchronous task would.
    }
    await sleep(50);
    const held = scrape();
    expect(maxOf(held)).toBeGreaterThanOrEqual(0.14);
    expect(renderMetrics(held)).toMatch(/^elfe_event_loop_delay_seconds\{quantile="0\.99"\} [0-9.e-]+$/m);
    await sleep(100);
    expect(maxOf(scrape())).toBeLessThan(0.1);
    stop();
  });
});
