// `npm run bench`: hub figures next to the raw limits they sit on, measured in the same run.
// Options:
//   --large      also 1M-entry figures: restart and memory (a generated history), audit, read-side queries
//   --huge       10M entries too: the restart and memory figures (the history takes long to generate), and the
//                log's restart, proofs and audit over 10M synthetic entries
//   --profile    the end-to-end run's hub and connectors (and the restarted hub) write CPU profiles
//                into bench/results/<run>-profile/, with a top-25 summary per process
//   --profile-rate N   with --profile: profile the end-to-end run at N births/s (10, 50, 100) instead of
//                the one at full load, where processes wait for a core and a profile blurs
//   --profile-warm   with --profile: profile the warm run (a burst after a first one) instead
//   --skip-e2e, --skip-distributed   leave those out
//   --only NAME[,NAME]   probes by name: e2e, distributed, restart, crypto, log, readside
// ELFE_BENCH_RESTART_ENTRIES=N[,N] sets the restart probe's log sizes (default 20000).
// ELFE_BENCH_DIR=DIR sets where the end-to-end and beyond-one-machine runs keep their data while the
// probe runs (default bench/results/work; see workDir.ts).
import path from 'node:path';
import { e2eProbe } from './probes/e2e.ts';
import { distributedProbe } from './probes/distributed.ts';
import { logProbe } from './probes/log.ts';
import { cryptoProbe } from './probes/crypto.ts';
import { readsideProbe } from './probes/readside.ts';
import { restartProbe } from './probes/restart.ts';
import { machineInfo, ratiosOf, renderTable, runName, writeReport, type BenchReport, type Section } from './report.ts';

const args = new Set(process.argv.slice(2));
const startedAt = new Date().toISOString();
const t0 = performance.now();
const sections: Section[] = [];
const resultsDir = path.resolve(import.meta.dirname, 'results');
const large = args.has('--large') || process.env.ELFE_BENCH_LARGE === '1';
const huge = args.has('--huge');
const profile = args.has('--profile') ? { dir: path.join(resultsDir, `${runName(startedAt)}-profile`), summaries: [] as string[] } : undefined;
const restartSizes = process.env.ELFE_BENCH_RESTART_ENTRIES
  ? process.env.ELFE_BENCH_RESTART_ENTRIES.split(',').map(Number)
  : huge
    ? [1_000_000, 10_000_000]
    : large
      ? [100_000, 1_000_000]
      : [20_000];

const probes: [string, () => Promise<Section[]>][] = [
  ['restart', () => restartProbe({ sizes: restartSizes, ...(profile ? { profileDir: profile.dir, summaries: profile.summaries } : {}) })],
  ['crypto', cryptoProbe],
  ['log', () => logProbe({ large, huge })],
  ['read side', () => readsideProbe({ large })],
];
const profileRateAt = process.argv.indexOf('--profile-rate');
const profileRate = profileRateAt >= 0 ? Number(process.argv[profileRateAt + 1]) : undefined;
if (!args.has('--skip-e2e')) probes.unshift(['end to end', () => e2eProbe(profile ? { ...profile, ...(profileRate ? { rate: profileRate } : {}), ...(args.has('--profile-warm') ? { warm: true } : {}) } : {})]);
if (!args.has('--skip-e2e') && !args.has('--skip-distributed')) probes.splice(1, 0, ['beyond one machine', () => distributedProbe()]);
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const probeKey: Record<string, string> = { 'end to end': 'e2e', 'beyond one machine': 'distributed', crypto: 'crypto', log: 'log', 'read side': 'readside', restart: 'restart' };
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
if (profile) console.log(`\nCPU profiles (${path.relative(process.cwd(), profile.dir)}/, open a .cpuprofile in Chrome DevTools or speedscope):\n\n${profile.summaries.join('\n\n') || 'none written'}`);
const file = writeReport(report, resultsDir);
console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
