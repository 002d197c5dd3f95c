// `npm run bench`: hub figures next to the raw limits they sit on, measured in the same run.
// Options: --large (also 1M-entry restart/audit and read-side queries), --skip-e2e, --skip-distributed,
// --only NAME[,NAME] (probes by name: e2e, distributed, crypto, log, readside).
import path from 'node:path';
import { e2eProbe } from './probes/e2e.ts';
import { distributedProbe } from './probes/distributed.ts';
import { logProbe } from './probes/log.ts';
import { cryptoProbe } from './probes/crypto.ts';
import { readsideProbe } from './probes/readside.ts';
import { machineInfo, ratiosOf, renderTable, writeReport, type BenchReport, type Section } from './report.ts';

const args = new Set(process.argv.slice(2));
const startedAt = new Date().toISOString();
const t0 = performance.now();
const sections: Section[] = [];

const probes: [string, () => Promise<Section[]>][] = [['crypto', cryptoProbe], ['log', () => logProbe({ large: args.has('--large') || process.env.ELFE_BENCH_LARGE === '1' })], ['read side', () => readsideProbe({ large: args.has('--large') || process.env.ELFE_BENCH_LARGE === '1' })]];
if (!args.has('--skip-e2e')) probes.unshift(['end to end', e2eProbe]);
if (!args.has('--skip-e2e') && !args.has('--skip-distributed')) probes.splice(1, 0, ['beyond one machine', () => distributedProbe()]);
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const probeKey: Record<string, string> = { 'end to end': 'e2e', 'beyond one machine': 'distributed', crypto: 'crypto', log: 'log', 'read side': 'readside' };
for (const [name, probe] of probes) {
  if (only && !only.has(probeKey[name] ?? name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  try {
    sections.push(...(await probe()));
  } catch (error) {
    sections.push({ name, figures: [], skipped: (error as Error).message });
  }
}

const report: BenchReport = { startedAt, durationMs: performance.now() - t0, machine: machineInfo(), sections, ratios: ratiosOf(sections) };
console.log(renderTable(report));
const file = writeReport(report, path.resolve(import.meta.dirname, 'results'));
console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
