// CPU profiles of the benchmark's child processes (`node --cpu-prof`, written when a process
// exits normally, one file per thread): kept beside the results, each with a short text
// summary of where the time went. A `.cpuprofile` opens in Chrome DevTools (Performance) or
// speedscope.app as a flame graph. Positions in compiled `dist/` files are mapped back to
// the TypeScript sources through their source maps.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface FunctionTime {
  readonly name: string;
  /** `file:line` (1-based), relative to `root`; the TypeScript source where a source map says so. */
  readonly where: string;
  readonly selfMs: number;
  /** Share of all samples (idle included). */
  readonly percent: number;
}

/** Node options that make a child write its CPU profile into `dir` when it exits. */
export const cpuProfileArgs = (dir: string): string[] => ['--cpu-prof', '--cpu-prof-dir', dir];

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let map: SourceMap | undefined;
    try {
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = undefined;
    }
    maps.set(file, map);
  }
  return maps.get(file);
}

/** Where a call frame is, as `file:line`: relative to `root`, through the source map when there is one. */
function placeOf(frame: ProfileNode['callFrame'], root: string): string {
  if (!frame.url) return '';
  let file = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  let line = frame.lineNumber + 1;
  const map = path.isAbsolute(file) ? sourceMapOf(file) : undefined;
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
    file = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
    line = entry.originalLine + 1;
  }
  return `${path.isAbsolute(file) ? path.relative(root, file) : file}:${line}`;
}

/** Self time per function (summed over every call path), most first. */
export function selfTimes(profile: CpuProfile, root: string): { functions: FunctionTime[]; totalMs: number; idlePercent: number } {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const byNode = new Map<number, number>();
  // Sample i lasts until sample i + 1; the last one gets the mean interval.
  const mean = samples.length > 1 ? (profile.endTime - profile.startTime) / samples.length : 0;
  for (let i = 0; i < samples.length; i++) byNode.set(samples[i]!, (byNode.get(samples[i]!) ?? 0) + Math.max(0, deltas[i + 1] ?? mean));
  const totalUs = [...byNode.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  for (const node of profile.nodes) {
    const us = byNode.get(node.id);
    if (!us) continue;
    const where = placeOf(node.callFrame, root);
    const name = node.callFrame.functionName || '(anonymous)';
    const key = `${name}@${where}`;
    const f = byFunction.get(key) ?? { name, where, us: 0 };
    f.us += us;
    byFunction.set(key, f);
  }
  const functions = [...byFunction.values()].sort((a, b) => b.us - a.us).map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, percent: totalUs > 0 ? (100 * f.us) / totalUs : 0 }));
  const idle = functions.find((f) => f.name === '(idle)')?.percent ?? 0;
  return { functions, totalMs: totalUs / 1000, idlePercent: idle };
}

/** The top `n` functions by self time, as a short text. */
export function profileSummary(title: string, profile: CpuProfile, root: string, n = 25): string {
  const { functions, totalMs, idlePercent } = selfTimes(profile, root);
  const lines = [`${title}: ${(totalMs / 1000).toFixed(1)} s sampled, ${(100 - idlePercent).toFixed(1)} % busy; top ${n} by self time`];
  for (const f of functions.slice(0, n)) lines.push(`  ${f.percent.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}${f.where ? `  ${f.where}` : ''}`);
  return lines.join('\n');
}

/**
 * Names the profiles in `dir` after their processes (`<name>.cpuprofile`, other threads
 * `<name>.thread-<id>.cpuprofile`), writes a summary beside each (`.top.txt`) and returns the
 * summaries. A process without a profile did not exit normally (killed), which is said too.
 */
export function keepProfiles(dir: string, pids: ReadonlyMap<string, number | undefined>, root: string, titleSuffix = ''): string[] {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^CPU\..*\.cpuprofile$/.test(f)) : [];
  const out: string[] = [];
  for (const [name, pid] of pids) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const mine = files.filter((f) => f.split('.')[3] === String(pid));
    if (mine.length === 0) out.push(`${name}${titleSuffix}: no CPU profile (the process did not exit normally)`);
    for (const file of mine.sort()) {
      const thread = file.split('.')[4];
      const base = thread === '0' ? name : `${name}.thread-${thread}`;
      const target = path.join(dir, `${base}.cpuprofile`);
      renameSync(path.join(dir, file), target);
      const summary = profileSummary(`${base}${titleSuffix}`, JSON.parse(readFileSync(target, 'utf8')) as CpuProfile, root);
      writeFileSync(path.join(dir, `${base}.top.txt`), `${summary}\n`);
      out.push(summary);
    }
  }
  return out;
}
