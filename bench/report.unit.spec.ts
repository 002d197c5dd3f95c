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

  it('holds a figure to a multiple of its floor: the ratio, its goal and whether it was met, in the table and the JSON', () => {
    const sections = [
      { name: 'crypto', figures: [{ key: 'crypto.ec.perBirth', label: 'floor', value: 1.25, unit: 'ms' }] },
      { name: 'e2e', figures: [{ key: 'e2e.cpu.perBirth', label: 'cpu', value: 25, unit: 'ms', limit: 'crypto.ec.perBirth', ratioGoal: 3 }, { key: 'e2e.x', label: 'x', value: 2.5, unit: 'ms', limit: 'crypto.ec.perBirth', ratioGoal: 3 }] },
    ];
    const ratios = ratiosOf(sections);
    expect(ratios).toEqual([
      { key: 'e2e.cpu.perBirth', limit: 'crypto.ec.perBirth', ratio: 20, goal: 3, met: false },
      { key: 'e2e.x', limit: 'crypto.ec.perBirth', ratio: 2, goal: 3, met: true },
    ]);
    const table = renderTable({ startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1, machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', platform: 'linux' }, sections, ratios });
    expect(table).toContain('20.00 × crypto.ec.perBirth   goal ≤ 3 ×: MISSED');
    expect(table).toContain('2.00 × crypto.ec.perBirth   goal ≤ 3 ×: met');
  });

  it('holds a rate to a floor: a goal to reach, and a share of its limit to reach', () => {
    const sections = [
      { name: 'raw', figures: [{ key: 'raw.read', label: 'read', value: 1000, unit: '/s' }] },
      {
        name: 'hub',
        figures: [
          { key: 'history.rate', label: 'history', value: 1500, unit: 'entries/s', goalAtLeast: 20_000 },
          { key: 'history.fast', label: 'fast', value: 25_000, unit: 'entries/s', goalAtLeast: 20_000 },
          { key: 'audit.slow', label: 'audit slow', value: 700, unit: '/s', limit: 'raw.read', ratioGoalAtLeast: 0.9 },
          { key: 'audit.fast', label: 'audit fast', value: 950, unit: '/s', limit: 'raw.read', ratioGoalAtLeast: 0.9 },
        ],
      },
    ];
    const ratios = ratiosOf(sections);
    expect(ratios).toEqual([
      { key: 'audit.slow', limit: 'raw.read', ratio: 0.7, goalAtLeast: 0.9, met: false },
      { key: 'audit.fast', limit: 'raw.read', ratio: 0.95, goalAtLeast: 0.9, met: true },
    ]);
    const table = renderTable({ startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1, machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 1, node: 'v20', platform: 'linux' }, sections, ratios });
    expect(table).toContain('goal ≥ 20,000 entries/s: MISSED');
    expect(table).toMatch(/25,000 entries\/s\s+goal ≥ 20,000 entries\/s: met/);
    expect(table).toContain('70.0 % of raw.read   goal ≥ 90 %: MISSED');
    expect(table).toContain('95.0 % of raw.read   goal ≥ 90 %: met');
  });
});
