import { describe, expect, it } from 'vitest';
import { profileSummary, selfTimes, type CpuProfile } from './cpuProfile.ts';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

// root → hash (twice: by two callers) and idle; 10 samples 1 ms apart.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('append', 'file:///repo/hub/log.js', 9) },
    { id: 4, callFrame: frame('hash', 'file:///repo/hub/hash.js', 0) },
    { id: 5, callFrame: frame('hash', 'file:///repo/hub/hash.js', 0) },
  ],
  startTime: 0,
  endTime: 10_000,
  samples: [4, 4, 5, 5, 3, 2, 2, 2, 2, 4],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('CPU profile summary', () => {
  it('sums self time per function over its call paths, with file:line', () => {
    const { functions, totalMs, idlePercent } = selfTimes(profile, '/repo');
    expect(totalMs).toBe(10);
    expect(idlePercent).toBe(40);
    expect(functions[0]).toEqual({ name: 'hash', where: 'hub/hash.js:1', selfMs: 5, percent: 50 });
    expect(functions.find((f) => f.name === 'append')).toMatchObject({ where: 'hub/log.js:10', selfMs: 1 });
  });

  it('prints the top functions and how busy the process was', () => {
    const text = profileSummary('hub', profile, '/repo', 2);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('60.0 % busy');
    expect(text).toMatch(/50\.0 %\s+5 ms {2}hash {2}hub\/hash\.js:1/);
  });
});
