import { describe, expect, it } from 'vitest';
import { acrossSoakPerMinute, slopePerMinute } from './slope.ts';

describe('the soak slope', () => {
  it('is the shared slope of the segments, a restart drop not counted, the warm-up left out', () => {
    const samples = [
      // pid 1: grows 2 per minute after a warm-up jump
      { pid: 1, t: 0, value: 0 },
      { pid: 1, t: 10_000, value: 100 },
      { pid: 1, t: 40_000, value: 101 },
      { pid: 1, t: 70_000, value: 102 },
      // pid 2 (restarted, lower): the same slope
      { pid: 2, t: 80_000, value: 0 },
      { pid: 2, t: 90_000, value: 50 },
      { pid: 2, t: 120_000, value: 51 },
    ];
    const r = slopePerMinute(samples, 10_000);
    expect(r.perMinute).toBeCloseTo(2, 6);
    expect(r.segments).toBe(2);
    expect(r.longestMs).toBe(60_000);
    // Across the soak the restarted process sits lower: the one line falls.
    expect(acrossSoakPerMinute(samples, 10_000)).toBeLessThan(0);
  });

  it('flat is zero, too few samples is undefined', () => {
    expect(slopePerMinute([{ pid: 1, t: 0, value: 5 }, { pid: 1, t: 60_000, value: 5 }], 0).perMinute).toBe(0);
    expect(slopePerMinute([{ pid: 1, t: 0, value: 5 }], 0).perMinute).toBeUndefined();
  });
});
