// Beyond one machine, on this machine: births/s and latency p99 on the three-node JetStream
// cluster (streams with three replicas) and with the log in PostgreSQL, each beside the embedded
// default (local nats-server, SQLite) measured in the same run, as ratios. The same shape as
// e2e.ts's e2eRun: the exchange provisioned, the hub and every agency's connector as processes,
// the Standesämter submitting from here; a run ends when every delivery's receipt is logged.
// The failover figures (stall when the stream leader dies, hub take-over) come from the last
// run of the tests that measure them (tests/cluster/…), when present.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Submitter } from '../../connectors/standesamt/src/main.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import type { LogStoreConfig } from '../../hub/src/config/config.ts';
import { findNatsServer, freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { startNatsCluster, type NatsCluster } from '../../hub/src/infra/nats/natsCluster.ts';
import { openHubEventStore } from '../../hub/src/log/openHubLog.ts';
import { birthLatencies, openSubmitters, submitBurst } from '../../hub/src/runner/births.ts';
import { runExchange, type RunningExchange } from '../../hub/src/runner/exchangeRunner.ts';
import { until } from '../../hub/src/runner/until.ts';
import { postgresAvailable, postgresSkipReason, TestPostgres } from '../../hub/src/runner/postgresCluster.ts';
import { percentile, testFiguresDir, type Figure, type Section } from '../report.ts';
import { benchWorkDir, removedAtEnd } from '../workDir.ts';

type Mode = 'embedded' | 'cluster' | 'postgres';

interface RunResult {
  readonly birthsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
}

async function acknowledged(port: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('elfe_receipts_total{outcome="acknowledged"} '));
    return line ? Number(line.split(' ')[1]) : 0;
  } catch {
    return 0;
  }
}

/** One burst; its data lie in the benchmark's work directory (workDir.ts), removed once every run is over. */
async function run(mode: Mode, births: number, seed: number, removeLater: (dir: string) => void): Promise<RunResult> {
  const root = mkdtempSync(path.join(benchWorkDir(), `elfe-bench-${mode}-`));
  removeLater(root);
  const metricsPort = await freePort();
  let cluster: NatsCluster | undefined;
  let pg: TestPostgres | undefined;
  let store: LogStoreConfig = { kind: 'sqlite' };
  let clusterPorts: { client: number[]; route: number[] } | undefined;
  if (mode === 'postgres') {
    pg = await TestPostgres.create();
    store = { kind: 'postgres', url: await pg.createDatabase('elfe'), schema: 'elfe', poolSize: 4, synchronousCommit: 'on', leaseTimeoutMs: 5000, leasePollMs: 500 };
  }
  if (mode === 'cluster') clusterPorts = { client: [await freePort(), await freePort(), await freePort()], route: [await freePort(), await freePort(), await freePort()] };
  const exchange = await provisionExchange(root, {
    natsPort: await freePort(),
    metricsPort,
    ...(clusterPorts ? { nats: { url: clusterPorts.client.map((p) => `nats://127.0.0.1:${p}`).join(','), replicas: 3 } } : {}),
    hub: { log: { checkpoint: { everyEntries: 1000, everyMs: 5000 }, origin: 'elfe-hub/log', store } },
  });
  if (clusterPorts) cluster = await startNatsCluster({ dir: path.join(root, 'nats'), caDir: exchange.caDir, clientPorts: clusterPorts.client, routePorts: clusterPorts.route });
  const agencies = exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse');
  let running: RunningExchange | undefined;
  let submitters = new Map<string, Submitter>();
  let sentAt = new Map<string, number>();
  let elapsed = 0;
  try {
    running = await runExchange({ layout: exchange, start: ['hub', ...agencies.map((p) => p.name)] });
    submitters = await openSubmitters(exchange.parties);
    const t0 = Date.now();
    const burst = await submitBurst(submitters, { births, seed, label: `bench-distributed-${mode}`, purpose: 'benchmark' });
    sentAt = burst.sentAt;
    const expected = burst.deliveries;
    let acked = 0;
    await until(async () => (acked = await acknowledged(metricsPort)) >= expected, { what: `${expected} deliveries acknowledged`, timeoutMs: 300_000, intervalMs: 20, observe: () => acked });
    elapsed = (Date.now() - t0) / 1000;
  } finally {
    for (const s of submitters.values()) await s.close();
    await running?.stop();
    await cluster?.stop();
  }
  let done: number[];
  try {
    ({ done } = await birthLatencies(await openHubEventStore(exchange.hubDir, store), exchange.hubDir, sentAt));
  } finally {
    await pg?.destroy();
  }
  if (done.length < births) throw new Error(`${mode}: only ${done.length} of ${births} births fully acknowledged`);
  return { birthsPerSecond: births / elapsed, p50: percentile(done, 50), p99: percentile(done, 99) };
}

function lastTestFigures(): Figure[] {
  const dir = testFiguresDir;
  const figures: Figure[] = [];
  const read = (file: string) => (existsSync(path.join(dir, file)) ? (JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>) : undefined);
  const stall = read('nats-cluster-stall.json');
  if (stall) {
    figures.push({ key: 'dist.cluster.stall.p50', label: `stall when the delivery stream's leader is killed mid-burst, p50 of ${String(stall.runs)} (test run ${String(stall.measuredAt).slice(0, 16)})`, value: Number(stall.p50Ms), unit: 'ms' });
    figures.push({ key: 'dist.cluster.stall.max', label: '  max', value: Number(stall.maxMs), unit: 'ms' });
  }
  const failover = read('hub-failover.json');
  if (failover) {
    figures.push({ key: 'dist.failover.takeover', label: `hub take-over after kill -9 of the active hub (test run ${String(failover.killedAt).slice(0, 16)})`, value: Number(failover.takeOverMs), unit: 'ms' });
    figures.push({ key: 'dist.failover.stall', label: '  deliveries stalled', value: Number(failover.stallMs), unit: 'ms' });
  }
  return figures;
}

export async function distributedProbe(options: { births?: number } = {}): Promise<Section[]> {
  const name = 'Beyond one machine (3-node NATS cluster, PostgreSQL) vs embedded';
  if (!findNatsServer()) return [{ name, figures: [], skipped: 'nats-server >= 2.10 not found (scripts/setup.sh)' }];
  return removedAtEnd((removeLater) => distributedFigures(name, options.births ?? 400, removeLater));
}

async function distributedFigures(name: string, births: number, removeLater: (dir: string) => void): Promise<Section[]> {
  const figures: Figure[] = [];
  const embedded = await run('embedded', births, 1, removeLater);
  figures.push({ key: 'dist.embedded.births', label: `births/s, ${births} at once, embedded (local nats-server, SQLite)`, value: embedded.birthsPerSecond, unit: '/s' });
  figures.push({ key: 'dist.embedded.p99', label: '  latency p99', value: embedded.p99, unit: 'ms' });
  const cluster = await run('cluster', births, 2, removeLater);
  figures.push({ key: 'dist.cluster.births', label: `births/s, three-node JetStream cluster (R3), SQLite`, value: cluster.birthsPerSecond, unit: '/s', limit: 'dist.embedded.births' });
  figures.push({ key: 'dist.cluster.p99', label: '  latency p99 (ratio: to embedded p99)', value: cluster.p99, unit: 'ms', limit: 'dist.embedded.p99' });
  if (postgresAvailable) {
    const pg = await run('postgres', births, 3, removeLater);
    figures.push({ key: 'dist.postgres.births', label: 'births/s, log in PostgreSQL (local nats-server)', value: pg.birthsPerSecond, unit: '/s', limit: 'dist.embedded.births' });
    figures.push({ key: 'dist.postgres.p99', label: '  latency p99 (ratio: to embedded p99)', value: pg.p99, unit: 'ms', limit: 'dist.embedded.p99' });
  }
  figures.push(...lastTestFigures());
  return [{ name, figures, ...(postgresAvailable ? {} : { skipped: `PostgreSQL part: ${postgresSkipReason}` }) }];
}
