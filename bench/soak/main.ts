// `npm run soak -- --minutes N [--rate R] [--kill-every S] [--drain-minutes M] [--seed N] [--keep]`: the chaos soak
// (bench/soak/soak.ts). Exit 0 when everything held, 1 when not; the figures on stdout.
import { renderSoak, runSoak } from './soak.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const num = (name: string, fallback: number): number => {
  const v = opt(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} wants a positive number, got ${v}`);
    process.exit(64);
  }
  return n;
};

const result = await runSoak({
  minutes: num('minutes', 10),
  rate: num('rate', 20),
  killEveryMs: num('kill-every', 5) * 1000,
  seed: num('seed', 25),
  drainTimeoutMs: num('drain-minutes', 10) * 60_000,
  keep: argv.includes('--keep'),
});
console.log(renderSoak(result));
console.log(JSON.stringify({ ...result, resources: result.resources }, null, 0));
if (result.failures.length === 0 && !argv.includes('--keep')) console.log('(data directory removed)');
else console.log(`data directory: ${result.root}`);
process.exit(result.failures.length === 0 ? 0 : 1);
