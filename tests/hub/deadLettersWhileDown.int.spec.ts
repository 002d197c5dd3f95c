// Dead letters per delivery, also for deliveries given up while the hub was down. NATS runs
// outside the hub (one nats-server started here), the hub and the agencies' connectors as
// processes. First every delivery is acknowledged. Then the Elterngeldstellen's connectors stop,
// births are submitted (the Familienkassen acknowledge theirs), the hub is killed (SIGKILL), and
// the Elterngeldstellen come back unable to keep a receipt (their receipts.sqlite refuses the
// rows): each of their deliveries is refused for redelivery until it exhausts maxDeliver (party
// config `delivery`), while no hub listens to the max-deliveries advisories. Started again, the
// hub logs exactly one DeliveryDeadLettered per such delivery, and none for a delivery that was
// acknowledged.
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receiptsFileOf } from '../../connectors/kit/receiptStore.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { checkLog, OneNodeRun, provisionDistributed, submitBurst, type DistributedExchange } from '../support/distributed.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { until } from '../support/processes.ts';

const maxDeliver = 3;

/** Rows of one type in the hub's log (the type column is stored in clear), read without writing. */
function countOf(hubDir: string, type: string): number {
  const db = new Database(logFiles(hubDir).events, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Makes the connector's receipts.sqlite refuse the receipts of these deliveries (its table made by the connector before). */
function refuseReceipts(stateDir: string, deliveryIds: readonly string[]): void {
  const db = new Database(receiptsFileOf(stateDir), { fileMustExist: true });
  try {
    const ids = deliveryIds.map((id) => `'${id.replaceAll("'", "''")}'`).join(', ');
    db.exec(`CREATE TRIGGER refuse_pending BEFORE INSERT ON receipts WHEN NEW.delivery_id IN (${ids}) BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  } finally {
    db.close();
  }
}

/** The log as the hub reads it (case entries opened): scheduled per recipient, acknowledged, dead-lettered. */
async function readLog(hubDir: string) {
  const raw = openSqliteEventStore(logFiles(hubDir).events);
  try {
    const check = await checkLog(raw, hubDir);
    const acknowledged = new Set<string>();
    const deadLettered: string[] = [];
    for await (const stored of openCaseLog(raw, hubDir).readAll()) {
      const e = fromRecord(stored);
      if (e?.type === 'DeliveryAcknowledged') acknowledged.add(e.data.deliveryId);
      if (e?.type === 'DeliveryDeadLettered') deadLettered.push(e.data.deliveryId);
    }
    return { byRecipient: check.byRecipient, acknowledged, deadLettered };
  } finally {
    await raw.close();
  }
}

describe.skipIf(!natsAvailable)('dead letters per delivery, also while the hub is down', () => {
  const run = new OneNodeRun();

  afterAll(() => run.stop());

  it('after a SIGKILL of the hub, one DeliveryDeadLettered per delivery that exhausted its retries meanwhile, none for acknowledged ones', async () => {
    const port = await freePort();
    const d: DistributedExchange = await provisionDistributed({ natsUrl: `nats://127.0.0.1:${port}`, prefix: 'elfe-deadletters-' });
    const hubDir = d.exchange.hubDir;
    const egs = d.agencies.filter((a) => a.role === 'elterngeldstelle');
    expect(egs.length).toBeGreaterThan(0);
    // The Elterngeldstellen give up on a delivery after 3 attempts, 1 s apart.
    for (const a of egs) {
      const config = JSON.parse(readFileSync(a.configFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(a.configFile, `${JSON.stringify({ ...config, delivery: { maxDeliver, ackWaitMs: 1000 } }, null, 2)}\n`);
    }
    const { hub, connectors, submitters } = await run.start(d, port);

    // Every delivery of the first births is acknowledged.
    const first = await submitBurst(submitters, 8, 1);
    await until(() => d.delivered() >= first.deliveries, { what: 'the first deliveries in the inboxes', timeoutMs: 90_000 });
    await until(() => countOf(hubDir, 'DeliveryAcknowledged') >= first.deliveries, { what: 'their receipts logged', timeoutMs: 60_000 });

    // The Elterngeldstellen are away while more births come; the Familienkassen take theirs.
    const egsProcesses = connectors.filter((c) => egs.some((a) => a.name === c.name));
    await Promise.all(egsProcesses.map((c) => c.kill('SIGTERM')));
    const second = await submitBurst(submitters, 8, 2);
    await until(() => countOf(hubDir, 'DeliveryScheduled') >= first.deliveries + second.deliveries, { what: 'the second deliveries scheduled', timeoutMs: 60_000 });
    await until(() => countOf(hubDir, 'DeliveryAcknowledged') >= first.deliveries + 8, { what: 'the Familienkassen acknowledged the second births', timeoutMs: 60_000 });
    // The relay publishes in log order: a moment more and the Elterngeldstellen's are in the stream too.
    await new Promise((r) => setTimeout(r, 2000));
    await hub.kill('SIGKILL');

    const before = await readLog(hubDir);
    const pendingEgs = new Set(egs.flatMap((a) => [...(before.byRecipient.get(a.name) ?? [])].filter((id) => !before.acknowledged.has(id))));
    expect(pendingEgs.size).toBeGreaterThan(0);
    expect(before.deadLettered).toEqual([]);

    // Back, but unable to keep a receipt for any of them (a trigger in the connector's
    // receipts.sqlite refuses their rows): every attempt is refused for redelivery (nak) until
    // JetStream gives up on the delivery.
    for (const a of egs) {
      const ids = [...(before.byRecipient.get(a.name) ?? [])].filter((id) => pendingEgs.has(id));
      if (ids.length > 0) refuseReceipts(path.join(a.dir, 'state'), ids);
    }
    for (const c of egsProcesses) c.start();
    await Promise.all(egsProcesses.map((c) => c.ready(/^ready:/m, 120_000)));
    const refusals = () => egsProcesses.reduce((n, c) => n + (c.output.match(/not finished, will be redelivered/g) ?? []).length, 0);
    await until(() => refusals() >= maxDeliver * pendingEgs.size, { what: 'every Elterngeldstelle delivery tried maxDeliver times', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2000));

    // The hub again: it finds them from the kept advisories, one dead letter each.
    hub.start();
    await hub.ready(/^ready:/m, 120_000);
    await until(() => countOf(hubDir, 'DeliveryDeadLettered') >= pendingEgs.size, { what: `${pendingEgs.size} dead letters logged`, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 3000));
    await hub.kill('SIGTERM');

    const after = await readLog(hubDir);
    expect(new Set(after.deadLettered).size).toBe(after.deadLettered.length);
    expect(new Set(after.deadLettered)).toEqual(pendingEgs);
    expect(after.deadLettered.filter((id) => after.acknowledged.has(id))).toEqual([]);
    for (const id of before.acknowledged) expect(after.deadLettered).not.toContain(id);
  }, 300_000);
});
