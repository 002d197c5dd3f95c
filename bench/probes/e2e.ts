// End-to-end figures: births per second until every delivery is acknowledged, latency at
// fixed offered rates, and the raw JetStream publish rate (same server settings) beside them.
// With a profile directory, the run at full load is profiled: the hub and each connector
// write a CPU profile (kept there, with a summary per process).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Submitter } from '../../connectors/standesamt/src/main.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { findNatsServer, freePort, startLocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { birthLatencies, openSubmitters, submitBurst, type BirthLatencies } from '../../hub/src/runner/births.ts';
import { repoRoot } from '../../hub/src/infra/repoRoot.ts';
import { runExchange, type RunningExchange } from '../../hub/src/runner/exchangeRunner.ts';
import { until } from '../../hub/src/runner/until.ts';
import { cpuProfileArgs, keepProfiles } from '../cpuProfile.ts';
import { cpuBetween, cpuSnapshot, pidsWhoseCommandHas, type CpuSnapshot, type CpuUse } from '../cpuTime.ts';
import { percentile, type Figure, type Section } from '../report.ts';
import { benchWorkDir, durableFileCpuMs, durableFileCpuMsInTmp, removedAtEnd } from '../workDir.ts';

async function rawJetStream(seconds: number, inFlight: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-bench-js-'));
  const server = await startLocalNatsServer({ storeDir: dir });
  const nc = await connect({ servers: server.url });
  try {
    await ensureStreams(await jetstreamManager(nc));
    const js = jetstream(nc);
    const body = JSON.stringify({ payload: { filler: 'x'.repeat(900) } });
    let n = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          const i = n++;
          await js.publish('elfe.delivery.egs.bench', body, { msgID: `bench-${i}` });
        }
      }),
    );
    return n / seconds;
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Standesamt submitters run inside the benchmark's own process. */
const cpuSelf = 'submitters';

interface RunResult {
  readonly births: number;
  readonly birthsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly deliveries: number;
  /** CPU each party used from the first submission until the last receipt was logged. */
  readonly cpu: CpuUse;
  /** The warm-up births' latency p99 (ms), when there was a warm-up. */
  readonly coldP99?: number;
  /** Where the latency went, hop by hop (births.ts `BirthLatencies.stages`), in ms. */
  readonly stages: BirthLatencies['stages'];
  /** The hub's longest event-loop delay while the measured births ran (its metric, scraped four times a second), in ms. */
  readonly loopDelayMax: number;
  /** The read side's commits while the measured births ran (its metric). */
  readonly readsideCommits?: number;
  /** CPU ms per second each group used before the first birth, with nothing to do (when measured). */
  readonly idlePerSecond?: ReadonlyMap<string, number>;
}

async function metricsOf(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return new Map(text.split('\n').flatMap((line) => {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    return m ? [[m[1]!, Number(m[2])] as const] : [];
  }));
}

/**
 * Offers `births` registrations (with IdNrs, so both agencies receive) at `rate` per second
 * (Infinity: all at once) to the exchange as it is deployed: the hub and every agency's
 * connector in their own processes, each Standesamt with its own key. With `warmup`, that many
 * births go first at the same rate, are waited for and measured apart (`cold`): the first
 * births after a start run through code not yet compiled by the JIT, which is the start's
 * cost, not the steady state's. The run's data lie in the benchmark's work directory
 * (workDir.ts) and are handed to `removeLater`, to be removed once every run is over.
 */
async function e2eRun(births: number, rate: number, seed: number, removeLater: (dir: string) => void, profile?: E2eOptions, warmup = 0, idleMs = 0): Promise<RunResult> {
  const root = mkdtempSync(path.join(benchWorkDir(), 'elfe-bench-e2e-'));
  removeLater(root);
  const metricsPort = await freePort();
  const exchange = await provisionExchange(root, { natsPort: await freePort(), metricsPort });
  const agencies = exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse');
  const names = ['hub', ...agencies.map((p) => p.name)];
  let running: RunningExchange | undefined;
  const pidOf = (name: string) => running?.process(name)?.pid;
  let submitters = new Map<string, Submitter>();
  let sentAt = new Map<string, number>();
  let warmSentAt = new Map<string, number>();
  let measuredDeliveries = 0;
  let loopDelayMax = 0;
  let readsideCommits: number | undefined;
  let t0 = 0;
  let elapsed = 0;
  let cpuBefore: CpuSnapshot | undefined;
  let cpuAfter: CpuSnapshot | undefined;
  let idle: CpuUse | undefined;
  const cpuGroups = () =>
    new Map([
      ['hub', [pidOf('hub') ?? -1]],
      ['nats-server', pidsWhoseCommandHas('nats-server', root)],
      ['connectors', agencies.map((p) => pidOf(p.name) ?? -1)],
    ]);
  try {
    running = await runExchange({ layout: exchange, start: names, ...(profile?.dir ? { nodeArgs: cpuProfileArgs(profile.dir) } : {}) });
    submitters = await openSubmitters(exchange.parties);
    if (idleMs > 0) {
      // What the exchange costs with nothing to do: its timers, polls and heartbeats (the
      // benchmark's own process is left out: it only waits here).
      const idleFrom = cpuSnapshot(cpuGroups());
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      idle = cpuBetween(idleFrom, cpuSnapshot(cpuGroups()));
    }
    let acknowledged = 0;
    let measuring = false;
    // A scrape that fails under load (a connection reset) is tried again on the next round. Each
    // scrape also gives the hub's longest event-loop delay since the previous one.
    const acknowledgedNow = async () => {
      const metrics = await metricsOf(metricsPort).catch(() => new Map<string, number>());
      if (measuring) loopDelayMax = Math.max(loopDelayMax, (metrics.get('elfe_event_loop_delay_seconds{quantile="1"}') ?? 0) * 1000);
      return metrics.get('elfe_receipts_total{outcome="acknowledged"}') ?? 0;
    };
    // Asked four times a second, as a monitor would rather than every few ms: each scrape counts
    // the read side's cases, CPU that would otherwise be charged to the births. The run's time
    // comes from the log (the last birth's last receipt), not from when this poll noticed it.
    const allAcknowledged = (expected: number) =>
      until(async () => (acknowledged = await acknowledgedNow()) >= expected, { what: `${expected} deliveries acknowledged`, timeoutMs: 600_000, intervalMs: 250, observe: () => acknowledged });
    let warmDeliveries = 0;
    if (warmup > 0) {
      const warm = await submitBurst(submitters, { births: warmup, seed: seed + 1_000_000, rate, label: 'bench-warmup', purpose: 'benchmark', firstEntry: 500_000 });
      warmSentAt = warm.sentAt;
      warmDeliveries = warm.deliveries;
      await allAcknowledged(warmDeliveries);
    }
    const groups = cpuGroups();
    // The warm-up's delays end with this scrape.
    await acknowledgedNow();
    measuring = true;
    const commitsBefore = (await metricsOf(metricsPort)).get('elfe_readside_transactions_total');
    cpuBefore = cpuSnapshot(groups, cpuSelf);
    t0 = Date.now();
    const burst = await submitBurst(submitters, { births, seed, rate, label: 'bench', purpose: 'benchmark' });
    sentAt = burst.sentAt;
    measuredDeliveries = burst.deliveries;
    await allAcknowledged(warmDeliveries + burst.deliveries);
    cpuAfter = cpuSnapshot(groups, cpuSelf);
    const commitsAfter = (await metricsOf(metricsPort)).get('elfe_readside_transactions_total');
    if (commitsBefore !== undefined && commitsAfter !== undefined) readsideCommits = commitsAfter - commitsBefore;
  } finally {
    for (const s of submitters.values()) await s.close();
    await running?.stop();
  }
  if (profile?.dir) profile.summaries?.push(...keepProfiles(profile.dir, new Map(names.map((name) => [name, pidOf(name)])), repoRoot));
  // Latency per birth: submission until its last delivery's receipt was logged.
  const { done, lastDoneAt, stages } = await birthLatencies(openSqliteEventStore(logFiles(exchange.hubDir).events), exchange.hubDir, sentAt);
  const cold = warmup > 0 ? (await birthLatencies(openSqliteEventStore(logFiles(exchange.hubDir).events), exchange.hubDir, warmSentAt)).done : [];
  elapsed = (lastDoneAt - t0) / 1000;
  if (done.length < births) throw new Error(`only ${done.length} of ${births} births fully acknowledged`);
  return {
    births,
    birthsPerSecond: births / elapsed,
    p50: percentile(done, 50),
    p99: percentile(done, 99),
    deliveries: measuredDeliveries,
    cpu: cpuBetween(cpuBefore!, cpuAfter!),
    ...(cold.length > 0 ? { coldP99: percentile(cold, 99) } : {}),
    stages,
    loopDelayMax,
    ...(readsideCommits === undefined ? {} : { readsideCommits }),
    ...(idle ? { idlePerSecond: new Map([...idle.perGroup].map(([group, ms]) => [group, (ms * 1000) / idleMs])) } : {}),
  };
}

/** Births the warm run's exchange carries before its measured burst. */
const warmBirths = 1000;
/** How long the exchange is watched with nothing to do, before the burst. */
const idleWindowMs = 5000;
const idleLabel: Record<string, string> = { hub: 'the hub', 'nats-server': 'the nats-server', connectors: 'the five connectors together' };

/** The goals: all processes within 3 × the crypto floor, the hub ≤ 1.5 ms per birth, a connector ≤ 1 ms per delivery. */
const cpuGoals = { perBirthTimesFloor: 3, hubMs: 1.5, connectorPerDeliveryMs: 1 };

/**
 * Where the CPU went at full load: ms of one core per birth for each party (against the crypto
 * floor `crypto.ec.perBirth` and the goals), and what the cores could carry at that cost.
 */
function cpuFigures(run: RunResult, prefix = 'e2e.cpu'): Figure[] {
  const { cpu, births } = run;
  const perBirth = cpu.totalMs / births;
  const connectorsMs = cpu.perGroup.get('connectors');
  const label: Record<string, string> = { hub: 'the hub', 'nats-server': 'the nats-server', connectors: 'the five agency connectors', [cpuSelf]: "the Standesämter's submitters (benchmark process)" };
  return [
    { key: `${prefix}.perBirth`, label: '  CPU per birth, every process of the exchange (ms of one core)', value: perBirth, unit: 'ms', limit: 'crypto.ec.perBirth', ratioGoal: cpuGoals.perBirthTimesFloor },
    ...[...cpu.perGroup].flatMap(([group, ms]) => [
      { key: `${prefix}.perBirth.${group}`, label: `    of which ${label[group] ?? group}`, value: ms / births, unit: 'ms', ...(group === 'hub' ? { goal: cpuGoals.hubMs } : {}) },
      // The kernel's share (file writes and fsync, sockets): what user-space work cannot lower.
      { key: `${prefix}.perBirth.${group}.system`, label: `      in the kernel (system time)`, value: (cpu.systemPerGroup.get(group) ?? 0) / births, unit: 'ms' },
    ]),
    ...(connectorsMs === undefined || run.deliveries === 0
      ? []
      : [{ key: `${prefix}.perDelivery.connectors`, label: `  a connector's CPU per delivery (${(run.deliveries / births).toFixed(2)} deliveries per birth)`, value: connectorsMs / run.deliveries, unit: 'ms', goal: cpuGoals.connectorPerDeliveryMs }]),
    ...(cpu.machineBusy === undefined ? [] : [{ key: `${prefix}.machineBusy`, label: `  machine CPU busy during that run (${cpu.cores} cores)`, value: cpu.machineBusy * 100, unit: '%' }]),
    { key: `${prefix}.ceiling`, label: `  births/s ${cpu.cores} cores carry at that CPU per birth`, value: (cpu.cores * 1000) / perBirth, unit: '/s' },
  ];
}

const stageLabels: Record<keyof RunResult['stages'], string> = {
  ingress: 'submission → registration logged (outbox, NATS, checks, sealing, commit)',
  routing: 'registration logged → hand-off logged (decision, JWE, commit)',
  toAgency: 'hand-off logged → received by the agency (relay, JetStream, decryption, inbox file)',
  receiptBack: "received → the agency's receipt logged (the receipts' commit, JetStream, checks, commit)",
};

/** p50 and p99 of each hop at a fixed rate: where the latency of `e2e.rate<N>.p99` goes (the hops' p99s do not add up to it). */
function stageFigures(rate: number, stages: RunResult['stages']): Figure[] {
  return (Object.keys(stageLabels) as (keyof RunResult['stages'])[]).flatMap((stage) =>
    stages[stage].length === 0
      ? []
      : [
          { key: `e2e.rate${rate}.stage.${stage}.p50`, label: `    p50 of ${stageLabels[stage]}`, value: percentile(stages[stage], 50), unit: 'ms' },
          { key: `e2e.rate${rate}.stage.${stage}.p99`, label: `      p99`, value: percentile(stages[stage], 99), unit: 'ms' },
        ],
  );
}

export interface E2eOptions {
  /** Where the run at full load keeps its processes' CPU profiles. */
  readonly dir?: string;
  /** Their summaries, for the caller to print. */
  readonly summaries?: string[];
  /**
   * Profile the run at this fixed rate (10, 50 or 100 births/s) instead of the one at full
   * load: with cores to spare, a profile's shares are each function's own, not the scheduler's.
   */
  readonly rate?: number;
  /**
   * Profile the warm run (its processes' whole lives: the warm-up burst, then the measured one)
   * instead of the one at full load from a fresh start.
   */
  readonly warm?: boolean;
}

export async function e2eProbe(options: E2eOptions = {}): Promise<Section[]> {
  if (!findNatsServer()) return [{ name: 'End to end (NATS + log + connectors)', figures: [], skipped: 'nats-server >= 2.10 not found (scripts/setup.sh)' }];
  return removedAtEnd((removeLater) => e2eFigures(options, removeLater));
}

async function e2eFigures(options: E2eOptions, removeLater: (dir: string) => void): Promise<Section[]> {
  const figures: Figure[] = [];
  const raw: Figure[] = [{ key: 'raw.jetstream.publish', label: 'raw JetStream publishes/s (acked, file store, sync always, 256 in flight)', value: await rawJetStream(5, 256), unit: '/s' }];
  // What the file system alone takes for an agency's hand-off of one delivery, where the runs keep their data.
  const files = durableFileCpuMs(benchWorkDir());
  removeLater(files.dir);
  const rawFiles: Figure[] = [
    { key: 'raw.fs.durableFile', label: `CPU per durable file (made, 3 kB, fsync, renamed) where the runs keep their data (${path.relative(process.cwd(), benchWorkDir()) || '.'})`, value: files.ms, unit: 'ms' },
    { key: 'raw.fs.durableFile.tmp', label: `  the same in ${os.tmpdir()}, where other programs make and delete files (bench/workDir.ts)`, value: durableFileCpuMsInTmp(), unit: 'ms' },
  ];
  const max = await e2eRun(1000, Number.POSITIVE_INFINITY, 1, removeLater, options.rate === undefined && !options.warm ? options : {}, 0, idleWindowMs);
  const profiled = options.dir && options.rate === undefined && !options.warm ? ', CPU-profiled' : '';
  // Beside the rate the measured CPU per birth lets the machine's cores carry (e2e.cpu.ceiling).
  figures.push({ key: 'e2e.births.max', label: `births/s, 1000 offered at once (parties as processes, EC certificates, TLS, JWE; all acknowledged${profiled})`, value: max.birthsPerSecond, unit: '/s', limit: 'e2e.cpu.ceiling' });
  // Each birth costs up to four JetStream publishes: two deliveries, two receipts.
  figures.push({ key: 'e2e.publishes.max', label: '  JetStream publishes/s that load causes (4 per birth)', value: max.birthsPerSecond * 4, unit: '/s', limit: 'raw.jetstream.publish' });
  figures.push({ key: 'e2e.latency.max.p50', label: '  latency p50 at that load', value: max.p50, unit: 'ms' });
  figures.push({ key: 'e2e.latency.max.p99', label: '  latency p99 at that load', value: max.p99, unit: 'ms' });
  figures.push({ key: 'e2e.max.hub.loopDelay.max', label: "  the hub's longest event-loop delay at that load", value: max.loopDelayMax, unit: 'ms' });
  figures.push(...cpuFigures(max));
  for (const [group, msPerSecond] of max.idlePerSecond ?? []) {
    figures.push({ key: `e2e.idle.cpu.${group}`, label: `  with no births (${idleWindowMs / 1000} s before the burst): CPU ms per second of ${idleLabel[group] ?? group}`, value: msPerSecond, unit: 'ms/s' });
  }
  // The same burst once the exchange has carried one before (its processes' hot paths compiled
  // by the JIT): the steady state of an exchange that runs for months. The figures above are a
  // fresh start's, whose first births run partly in V8's interpreter.
  const warm = await e2eRun(1000, Number.POSITIVE_INFINITY, 2, removeLater, options.warm ? options : undefined, warmBirths);
  figures.push({ key: 'e2e.warm.births.max', label: `births/s, 1000 offered at once after ${warmBirths} offered the same way (the processes warm${options.warm && options.dir ? ', CPU-profiled' : ''})`, value: warm.birthsPerSecond, unit: '/s', limit: 'e2e.warm.cpu.ceiling' });
  figures.push({ key: 'e2e.warm.latency.max.p99', label: '  latency p99 at that load', value: warm.p99, unit: 'ms' });
  figures.push(...cpuFigures(warm, 'e2e.warm.cpu'));
  // Each fixed rate runs for ten seconds after a warm-up of two seconds (at least 50 births)
  // at the same rate; the warm-up's own p99 is printed beside it as the first births after a start.
  for (const rate of [10, 50, 100]) {
    const r = await e2eRun(rate * 10, rate, 100 + rate, removeLater, options.rate === rate ? options : undefined, Math.max(50, rate * 2));
    figures.push({ key: `e2e.rate${rate}.births`, label: `births/s achieved at ${rate}/s offered${options.rate === rate && options.dir ? ' (CPU-profiled)' : ''}`, value: r.birthsPerSecond, unit: '/s' });
    figures.push({ key: `e2e.rate${rate}.p50`, label: `  latency p50 at ${rate}/s`, value: r.p50, unit: 'ms' });
    // Submission to the last receipt logged, fsync on everywhere: at 50/s it should stay under 100 ms.
    figures.push({ key: `e2e.rate${rate}.p99`, label: `  latency p99 at ${rate}/s`, value: r.p99, unit: 'ms', ...(rate === 50 ? { goal: 100 } : {}) });
    if (r.coldP99 !== undefined) figures.push({ key: `e2e.rate${rate}.cold.p99`, label: `  latency p99 of the first ${Math.max(50, rate * 2)} births after the start (the warm-up)`, value: r.coldP99, unit: 'ms' });
    if (rate <= 50) {
      figures.push(...stageFigures(rate, r.stages));
      if (r.readsideCommits !== undefined) figures.push({ key: `e2e.rate${rate}.readside.commitsPerBirth`, label: `    the read side's commits per birth meanwhile`, value: r.readsideCommits / r.births, unit: '' });
      figures.push({ key: `e2e.rate${rate}.hub.loopDelay.max`, label: `    the hub's longest event-loop delay meanwhile (every birth in flight waits that long)`, value: r.loopDelayMax, unit: 'ms' });
    }
  }
  return [
    { name: 'End to end (NATS + log + connectors)', figures },
    { name: 'Raw limit: JetStream', figures: raw },
    { name: 'Raw limit: file system', figures: rawFiles },
  ];
}
