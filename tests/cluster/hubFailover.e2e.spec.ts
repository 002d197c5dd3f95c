// The hub on PostgreSQL, and two hubs with one sequencer. NATS is external to the hubs (one
// nats-server started here, TLS and per-certificate users as always); the event store is a
// PostgreSQL cluster started here. First the hub alone routes and delivers from PostgreSQL and
// rebuilds its local Merkle tree file from the log when the file is gone. Then a second hub with
// the same identity stands by; the active one is killed with SIGKILL mid-burst; the standby
// takes the lease, resumes ingress, routing, relay and receipts from the log: nothing lost,
// nothing twice at any inbox, the log verifies. The take-over time is reported.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Submitter } from '../../connectors/standesamt/src/main.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { startNatsCluster, type NatsCluster } from '../../hub/src/infra/nats/natsCluster.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { openPostgresEventStore } from '../../hub/src/log/postgres/postgresEventStore.ts';
import { checkLog, hubProcess, inboxMismatches, openSubmitters, ProgressWatch, provisionDistributed, standbyHubDir, startConnectors, submitBurst, type DistributedExchange } from '../support/distributed.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { postgresAvailable, postgresSkipReason, TestPostgres } from '../support/postgres.ts';
import type { PartyProcess} from '../support/processes.ts';
import { runElfe, until } from '../support/processes.ts';
import { testFiguresDir } from '../../bench/report.ts';

const ready = !natsAvailable ? natsSkipReason : !postgresAvailable ? postgresSkipReason : '';
if (ready) console.warn(`skipped: ${ready}`);

describe.skipIf(ready !== '')('the hub on PostgreSQL, and hub failover', () => {
  let pg: TestPostgres;
  let url: string;
  let nats: NatsCluster;
  let d: DistributedExchange;
  let hub1: PartyProcess;
  let hub2: PartyProcess | undefined;
  let connectors: PartyProcess[] = [];
  let submitters = new Map<string, Submitter>();
  let births = 0;
  let expected = 0;

  const logCheck = async () => {
    const store = await openPostgresEventStore({ url });
    try {
      return await checkLog(store, d.exchange.hubDir);
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    pg = await TestPostgres.create();
    url = await pg.createDatabase('elfe');
    const port = await freePort();
    d = await provisionDistributed({
      natsUrl: `nats://127.0.0.1:${port}`,
      store: { kind: 'postgres', url, schema: 'elfe', poolSize: 4, synchronousCommit: 'on', leaseTimeoutMs: 5000, leasePollMs: 200 },
      prefix: 'elfe-failover-',
    });
    nats = await startNatsCluster({ dir: path.join(d.root, 'nats'), caDir: d.exchange.caDir, nodes: 1, clientPorts: [port] });
    hub1 = hubProcess(d.exchange.hubConfigFile, 'hub1');
    await hub1.ready(/^ready:/m, 120_000);
    connectors = startConnectors(d);
    await Promise.all(connectors.map((c) => c.ready(/^ready:/m, 120_000)));
    submitters = await openSubmitters(d);
  });

  afterAll(async () => {
    for (const s of submitters.values()) await s.close().catch(() => undefined);
    await Promise.all([...connectors, hub1, hub2].filter(Boolean).map((p) => p!.kill('SIGTERM')));
    await nats?.stop();
    await pg?.destroy();
  });

  it('routes and delivers with the log in PostgreSQL; the local tree file is rebuilt from the log', async () => {
    const burst = await submitBurst(submitters, 60, 1);
    births += 60;
    expected += burst.deliveries;
    await until(() => d.delivered() >= expected, { what: 'every delivery', timeoutMs: 90_000 });
    await until(async () => (await logCheck()).acknowledged >= expected, { what: 'every receipt logged', timeoutMs: 60_000 });
    expect(existsSync(logFiles(d.exchange.hubDir).events)).toBe(false);

    // The tree file is local: gone (a new machine), it is rebuilt from the log at start.
    await hub1.kill('SIGTERM');
    rmSync(logFiles(d.exchange.hubDir).tree, { force: true });
    hub1.start();
    await hub1.ready(/^ready:/m, 60_000);
    expect(existsSync(logFiles(d.exchange.hubDir).tree)).toBe(true);
    const audit = await runElfe(['audit', 'verify', '--config', d.exchange.hubConfigFile]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });

  it('kill -9 of the active hub mid-burst: the standby takes over; nothing lost, nothing twice, the log verifies', async () => {
    hub2 = hubProcess(path.join(await standbyHubDir(d.exchange), 'config.json'), 'hub2');
    await until(() => /standing by/.test(hub2!.output), { what: 'hub2 standing by', timeoutMs: 60_000 });
    expect(hub2.output).not.toMatch(/^ready:/m);

    const watch = new ProgressWatch(() => d.delivered());
    const before = d.delivered();
    const burst = await submitBurst(submitters, 200, 2);
    births += 200;
    expected += burst.deliveries;
    await until(() => d.delivered() >= before + burst.deliveries / 4, { what: 'progress before the kill', timeoutMs: 60_000 });
    const killedAt = Date.now();
    await hub1.kill('SIGKILL');
    await until(() => /^ready:/m.test(hub2!.output), { what: 'hub2 took over', timeoutMs: 60_000 });
    const tookOver = Date.now() - killedAt;
    await until(() => d.delivered() >= expected, { what: 'every delivery after the take-over', timeoutMs: 120_000 });
    const stall = watch.longestStallSince(killedAt);
    watch.stop();
    await until(async () => (await logCheck()).acknowledged >= expected, { what: 'every receipt logged', timeoutMs: 90_000 });
    await new Promise((r) => setTimeout(r, 1500));

    const epoch = /sequencer lease taken: epoch (\d+) after (\d+) ms/.exec(hub2.output);
    const report = { killedAt: new Date(killedAt).toISOString(), takeOverMs: tookOver, stallMs: stall, standbyEpoch: epoch ? Number(epoch[1]) : undefined };
    console.log(`hub failover: the standby was ready ${tookOver} ms after kill -9 of the active hub; deliveries stalled ${stall} ms`);
    const dir = testFiguresDir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'hub-failover.json'), `${JSON.stringify(report, null, 2)}\n`);
    expect(tookOver).toBeLessThan(15_000);

    const check = await logCheck();
    expect(check.registered).toBe(births);
    expect(check.duplicateKeys).toBe(0);
    expect(check.scheduled).toBe(expected);
    expect(check.acknowledged).toBe(expected);
    expect(d.delivered()).toBe(expected);
    expect(inboxMismatches(d, check)).toEqual([]);
    const audit = await runElfe(['audit', 'verify', '--config', path.join(d.root, 'hub2', 'config.json')]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
  });
});
