// The exchange on a three-node JetStream cluster (TLS, per-certificate users and per-role
// permissions on every node, TLS-verified routes), streams with three replicas. In the middle
// of a burst the node leading the delivery stream is killed with SIGKILL: nothing is lost and
// nothing duplicated at any inbox. The stall (longest time without a new delivery in any inbox,
// from the kill on) is measured over several runs; p50 and max are printed and written to
// nats-cluster-stall.json in the test figures directory (bench/report.ts), where the benchmark picks them up. The killed node is
// started once and must catch up by itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryStream, receiptStream } from '../../contracts/index.ts';
import type { Submitter } from '../../connectors/standesamt/src/main.ts';
import { connectWithRetry } from '../../connectors/kit/natsConnection.ts';
import { findNatsServer, freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { startNatsCluster, type NatsCluster } from '../../hub/src/infra/nats/natsCluster.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { checkLog, hubMetric, hubProcess, inboxMismatches, openSubmitters, percentile, ProgressWatch, provisionDistributed, startConnectors, submitBurst, type DistributedExchange } from '../support/distributed.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import type { PartyProcess} from '../support/processes.ts';
import { runElfe, until } from '../support/processes.ts';
import { testFiguresDir } from '../../bench/report.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const runs = Number(process.env.ELFE_CLUSTER_RUNS ?? 3);
const birthsPerRun = 150;

describe.skipIf(!natsAvailable)('three-node JetStream cluster', () => {
  let d: DistributedExchange;
  let cluster: NatsCluster;
  let hub: PartyProcess;
  let connectors: PartyProcess[] = [];
  let submitters = new Map<string, Submitter>();
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const routePorts = [await freePort(), await freePort(), await freePort()];
    d = await provisionDistributed({ natsUrl: clientPorts.map((p) => `nats://127.0.0.1:${p}`).join(','), replicas: 3, prefix: 'elfe-cluster-' });
    cluster = await startNatsCluster({ dir: path.join(d.root, 'nats'), caDir: d.exchange.caDir, clientPorts, routePorts });
    hub = hubProcess(d.exchange.hubConfigFile);
    await hub.ready(/^ready:/m, 120_000);
    connectors = startConnectors(d);
    await Promise.all(connectors.map((c) => c.ready(/^ready:/m, 120_000)));
    submitters = await openSubmitters(d);
    // The test looks at the stream as the hub does (the hub's certificate may read stream info).
    nc = await connectWithRetry({ servers: cluster.url, tls: { caFile: path.join(d.exchange.caDir, 'ca.cert.pem'), certFile: path.join(d.exchange.hubDir, 'cert.pem'), keyFile: path.join(d.exchange.hubDir, 'key.pem') } }, () => undefined);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    for (const s of submitters.values()) await s.close().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await Promise.all([...connectors, hub].filter(Boolean).map((p) => p.kill('SIGTERM')));
    await cluster?.stop();
    console.log('cluster root', d?.root);
  });

  it('the stream has three replicas on three nodes, and routes and clients use TLS', async () => {
    const info = await jsm.streams.info(deliveryStream);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.leader).toMatch(/^elfe-n[123]$/);
    expect(info.cluster?.replicas?.length).toBe(2);
  });

  /** What the streams, their consumers and the processes say, for a failure's message. */
  async function diagnosis(): Promise<string> {
    const lines: string[] = [`receipts logged (metric): ${await hubMetric(d.metricsPort, 'elfe_receipts_total{outcome="acknowledged"}').catch(() => NaN)}`];
    for (const stream of [deliveryStream, receiptStream]) {
      const info = await jsm.streams.info(stream).catch((e: Error) => e);
      lines.push(`${stream}: ${info instanceof Error ? info.message : JSON.stringify({ messages: info.state.messages, cluster: info.cluster })}`);
      for await (const c of jsm.consumers.list(stream)) {
        lines.push(`  consumer ${c.name}: ${JSON.stringify({ pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered, waiting: c.num_waiting, delivered: c.delivered, ackFloor: c.ack_floor, cluster: c.cluster })}`);
      }
    }
    for (const p of [hub, ...connectors]) lines.push(`--- ${p.name ?? 'process'} (last output)\n${p.output.slice(-4000)}`);
    return lines.join('\n');
  }

  it('killing the delivery stream\'s leader mid-burst loses nothing and duplicates nothing; the stall is measured', async () => {
    const watch = new ProgressWatch(() => d.delivered());
    const stalls: number[] = [];
    const killed: string[] = [];
    const catchUps: number[] = [];
    let expected = 0;
    try {
      for (let run = 1; run <= runs; run++) {
        const before = d.delivered();
        const burst = await submitBurst(submitters, birthsPerRun, run);
        expected += burst.deliveries;
        await until(() => d.delivered() >= before + burst.deliveries / 4, { what: `run ${run}: progress before the kill`, timeoutMs: 60_000 });
        const leader = (await jsm.streams.info(deliveryStream)).cluster!.leader!;
        const node = cluster.node(leader);
        const killedAt = Date.now();
        await node.server.kill();
        killed.push(leader);
        await until(() => d.delivered() >= expected, { what: `run ${run}: every delivery after the kill of ${leader}`, timeoutMs: 120_000 }).catch(async (error: Error) => {
          throw new Error(`${error.message} (${d.delivered()} of ${expected})\n${await diagnosis()}`);
        });
        stalls.push(watch.longestStallSince(killedAt));
        // The node comes back by itself and catches up its replica before the next run: started
        // once, nothing else done to it (in production nobody restarts it a second time).
        const restartedAt = Date.now();
        await node.server.restart();
        let seen = '';
        await until(async () => {
          const info = await jsm.streams.info(deliveryStream).catch((e: Error) => e);
          seen = info instanceof Error ? info.message : JSON.stringify(info.cluster);
          if (info instanceof Error || !info.cluster?.leader) return false;
          return info.cluster.leader === leader || (info.cluster.replicas ?? []).some((r) => r.name === leader && r.current);
        }, { what: `run ${run}: ${leader} current again after one restart`, timeoutMs: 90_000 }).catch((error: Error) => {
          throw new Error(`${error.message}; last seen ${seen}`);
        });
        catchUps.push(Date.now() - restartedAt);
      }
    } finally {
      watch.stop();
    }
    // Every delivery acknowledged by its agency and the receipt logged.
    await until(async () => (await hubMetric(d.metricsPort, 'elfe_receipts_total{outcome="acknowledged"}')) >= expected, { what: 'every receipt logged', timeoutMs: 120_000 }).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await diagnosis()}`);
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(d.delivered()).toBe(expected);
    const streamMessages = (await jsm.streams.info(deliveryStream)).state.messages;

    const report = { runs, birthsPerRun, natsServer: spawnSync(findNatsServer()!, ['--version'], { encoding: 'utf8' }).stdout.trim(), killed, catchUpMs: catchUps, stallsMs: stalls, p50Ms: percentile(stalls, 50), maxMs: Math.max(...stalls), measuredAt: new Date().toISOString() };
    console.log(`${report.natsServer}: leader of ${deliveryStream} killed mid-burst ${runs}×; stall p50 ${report.p50Ms} ms, max ${report.maxMs} ms (${stalls.join(', ')} ms); the killed node current again ${catchUps.join(', ')} ms after its restart`);
    const dir = testFiguresDir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'nats-cluster-stall.json'), `${JSON.stringify(report, null, 2)}\n`);

    await hub.kill('SIGTERM');
    const store = openSqliteEventStore(logFiles(d.exchange.hubDir).events);
    try {
      const check = await checkLog(store, d.exchange.hubDir);
      expect(check.registered).toBe(runs * birthsPerRun);
      expect(check.duplicateKeys).toBe(0);
      expect(check.scheduled).toBe(expected);
      expect(check.acknowledged).toBe(expected);
      expect(inboxMismatches(d, check)).toEqual([]);
      // One message per delivery in the stream: no publish was stored twice across the failovers.
      expect(streamMessages).toBe(expected);
    } finally {
      await store.close();
    }
    const audit = await runElfe(['audit', 'verify', '--data', d.exchange.hubDir]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });
});
