import { describe, expect, it } from 'vitest';
import { percentile, ratiosOf, renderTable, type BenchReport } from './report.ts';

describe('bench report', () => {
  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('relates each figure to its limit measured in the same run', () => {
    const sections = [
      { name: 'raw', figures: [{ key: 'raw.sha', label: 'sha', value: 200, unit: '/s' }] },
      { name: 'hub', figures: [{ key: 'hub.audit', label: 'audit', value: 50, unit: '/s', limit: 'raw.sha' }, { key: 'hub.x', label: 'x', value: 1, unit: '/s', limit: 'missing' }] },
    ];
    expect(ratiosOf(sections)).toEqual([{ key: 'hub.audit', limit: 'raw.sha', ratio: 0.25 }]);
    const report: BenchReport = {
      startedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 1,
      machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', platform: 'linux' },
      sections,
      ratios: ratiosOf(sections),
    };
    expect(renderTable(report)).toContain('25.0 % of raw.sha');
  });

  it('says whether a figure met its goal', () => {
    const sections = [{ name: 'restart', figures: [{ key: 'a', label: 'a', value: 1500, unit: 'ms', goal: 2000 }, { key: 'b', label: 'b', value: 300, unit: 'MB', goal: 256 }] }];
    const table = renderTable({ startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1, machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', platform: 'linux' }, sections, ratios: [] });
    expect(table).toContain('goal < 2,000 ms: met');
    expect(table).toContain('goal < 256 MB: MISSED');
  });
});
