// The benchmark's report: every figure the run measured, each hub figure next to the
// raw limit it sits on (measured in the same run), printed as a table and written as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where tests that measure (the NATS cluster's stall, the hub's take-over) leave their figures
 * for the next bench run: outside the repository, so a test run never writes into bench/results.
 */
export const testFiguresDir: string = process.env['ELFE_TEST_FIGURES'] ?? path.join(os.tmpdir(), 'elfe-test-figures');

export interface Figure {
  /** Stable key, e.g. `log.append.concurrent`. */
  readonly key: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** Key of the raw limit this figure is compared with (same run). */
  readonly limit?: string;
  /** The goal the figure should stay below (same unit), e.g. restart < 2 s. */
  readonly goal?: number;
  /** The goal as a multiple of its limit: at most this many times the floor, e.g. CPU per birth ≤ 3 × the crypto's. */
  readonly ratioGoal?: number;
  /** The goal a rate should reach (same unit), e.g. history ≥ 20,000 entries/s. */
  readonly goalAtLeast?: number;
  /** The goal as a share of its limit to reach, e.g. the audit ≥ 0.9 × the raw read-and-hash. */
  readonly ratioGoalAtLeast?: number;
}

export interface Section {
  readonly name: string;
  readonly figures: readonly Figure[];
  /** Why the section has no figures (e.g. nats-server missing). */
  readonly skipped?: string;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly node: string; readonly platform: string };
  readonly sections: readonly Section[];
  readonly ratios: readonly { readonly key: string; readonly limit: string; readonly ratio: number; readonly goal?: number; readonly goalAtLeast?: number; readonly met?: boolean }[];
}

export function machineInfo(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Ratio of each figure to its limit, where both were measured. */
export function ratiosOf(sections: readonly Section[]): BenchReport['ratios'] {
  const byKey = new Map(sections.flatMap((s) => s.figures).map((f) => [f.key, f]));
  const out: { key: string; limit: string; ratio: number; goal?: number; goalAtLeast?: number; met?: boolean }[] = [];
  for (const figure of byKey.values()) {
    if (!figure.limit) continue;
    const limit = byKey.get(figure.limit);
    if (!limit || limit.value <= 0) continue;
    const ratio = figure.value / limit.value;
    const goal =
      figure.ratioGoal !== undefined ? { goal: figure.ratioGoal, met: ratio <= figure.ratioGoal }
      : figure.ratioGoalAtLeast !== undefined ? { goalAtLeast: figure.ratioGoalAtLeast, met: ratio >= figure.ratioGoalAtLeast }
      : {};
    out.push({ key: figure.key, limit: limit.key, ratio, ...goal });
  }
  return out;
}

const format = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString('en-US') : value >= 1 ? value.toFixed(2) : value.toPrecision(3);

export function renderTable(report: BenchReport): string {
  const ratios = new Map(report.ratios.map((r) => [r.key, r]));
  const lines: string[] = [];
  const m = report.machine;
  lines.push(`elfe-hub benchmark, ${report.startedAt} (${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node})`);
  for (const section of report.sections) {
    lines.push('', `## ${section.name}${section.skipped ? ` (skipped: ${section.skipped})` : ''}`);
    const width = Math.max(0, ...section.figures.map((f) => f.label.length));
    for (const f of section.figures) {
      const r = ratios.get(f.key);
      const share = r ? `   ${(r.ratio * 100).toFixed(1)} % of ${r.limit}` : '';
      const ratio =
        !r ? ''
        : r.goal !== undefined ? `   ${r.ratio.toFixed(2)} × ${r.limit}   goal ≤ ${r.goal} ×: ${r.met ? 'met' : 'MISSED'}`
        : r.goalAtLeast !== undefined ? `${share}   goal ≥ ${Math.round(r.goalAtLeast * 100)} %: ${r.met ? 'met' : 'MISSED'}`
        : share;
      const below = f.goal === undefined ? '' : `   goal < ${format(f.goal)} ${f.unit}: ${f.value < f.goal ? 'met' : 'MISSED'}`;
      const above = f.goalAtLeast === undefined ? '' : `   goal ≥ ${format(f.goalAtLeast)} ${f.unit}: ${f.value >= f.goalAtLeast ? 'met' : 'MISSED'}`;
      const goal = below + above;
      lines.push(`  ${f.label.padEnd(width)}  ${format(f.value).padStart(12)} ${f.unit}${ratio}${goal}`);
    }
  }
  return lines.join('\n');
}

/** The name of a run's files in the results directory: its JSON, and `<name>-profile/` beside it. */
export const runName = (startedAt: string): string => `bench-${startedAt.replace(/[:.]/g, '-')}`;

export function writeReport(report: BenchReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${runName(report.startedAt)}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
export async function ratePerSecond(ms: number, batch: number, fn: () => unknown): Promise<number> {
  const start = performance.now();
  let ops = 0;
  while (performance.now() - start < ms) {
    for (let i = 0; i < batch; i++) await fn();
    ops += batch;
  }
  return ops / ((performance.now() - start) / 1000);
}

/** Percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
