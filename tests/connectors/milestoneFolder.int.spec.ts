// An agency's case system reports milestones by dropping files into its connector's
// `milestones/` folder. NATS runs outside the hub (one nats-server started here), the hub and
// the agencies' connectors as processes, as the operator runs them. The folder's promises:
// done/ only after the hub logged the milestone; failed/ with the hub's refusal for another
// agency's delivery (a security event in the hub, no milestone); in place while the hub is
// down, logged once it is back; a connector killed (SIGKILL) after sending logs it once.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milestoneOf } from '../../connectors/kit/milestones.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { readFact } from '../../hub/src/readside/facts.ts';
import { openProjectionStore } from '../../hub/src/readside/projectionStore.ts';
import { OneNodeRun, provisionDistributed, submitBurst, type DistributedExchange } from '../support/distributed.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { filesIn, until, type PartyProcess } from '../support/processes.ts';

interface Row {
  readonly stream: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly raw: Parameters<typeof readFact>[0];
}

/** The hub's log as the hub reads it (case entries opened), read while the hub runs. */
async function readLog(hubDir: string): Promise<Row[]> {
  const raw = openSqliteEventStore(logFiles(hubDir).events);
  try {
    const rows: Row[] = [];
    for await (const stored of openCaseLog(raw, hubDir).readAll()) {
      const e = fromRecord(stored);
      rows.push({ stream: stored.stream, type: stored.type, data: (e?.data ?? {}) as Record<string, unknown>, raw: stored });
    }
    return rows;
  } finally {
    await raw.close();
  }
}

/** Whether a connector logged that it waits for the hub's answer to this milestone. */
const awaitsHub = (connector: PartyProcess, dvdv: string, deliveryId: string, status: 'in-bearbeitung' | 'ausgezahlt') =>
  connector.stderr.split('\n').some((line) => line.includes('milestone.awaiting-hub') && line.includes(milestoneOf(dvdv, { deliveryId, status }).milestoneId));

const milestonesOf = (rows: readonly Row[], deliveryId: string) => rows.filter((r) => r.type === 'HandOffMilestone' && r.data['deliveryId'] === deliveryId).map((r) => r.data['status']);

describe.skipIf(!natsAvailable)("an agency's milestone drop folder", () => {
  const run = new OneNodeRun();
  let hub: PartyProcess;
  let connectors: PartyProcess[] = [];
  let d: DistributedExchange;
  /** The delivery of the one birth to each agency that received one, by party name. */
  const deliveries = new Map<string, string>();
  const dirOf = (name: string) => d.exchange.party(name).dir;
  const drop = (agency: string, file: string, content: string) => {
    // Written under a temporary name and renamed, as the folder's users are told to.
    const dir = path.join(dirOf(agency), 'milestones');
    writeFileSync(path.join(dir, `.${file}.tmp`), content);
    renameSync(path.join(dir, `.${file}.tmp`), path.join(dir, file));
  };
  const connectorOf = (name: string) => connectors.find((c) => c.name === name)!;

  beforeAll(async () => {
    const port = await freePort();
    d = await provisionDistributed({ natsUrl: `nats://127.0.0.1:${port}`, prefix: 'elfe-milestones-' });
    const started = await run.start(d, port);
    ({ hub, connectors } = started);
    const burst = await submitBurst(started.submitters, 1, 7);
    await until(() => d.delivered() >= burst.deliveries, { what: 'the deliveries in the inboxes', timeoutMs: 90_000 });
    for (const a of d.agencies) {
      const file = d.inbox(a.name).find((f) => !f.endsWith('.meta.json'));
      if (file) deliveries.set(a.name, file.replace(/\.(xml|json)$/, ''));
    }
  }, 240_000);

  afterAll(() => run.stop());

  const egs = () => d.agencies.find((a) => a.role === 'elterngeldstelle' && deliveries.has(a.name))!;
  const fka = () => d.agencies.find((a) => a.role === 'familienkasse' && deliveries.has(a.name))!;

  it('a dropped milestone is logged by the hub, projected for the case timeline, and the file moves to done/', async () => {
    const agency = egs();
    const deliveryId = deliveries.get(agency.name)!;
    drop(agency.name, 'bescheid-1.json', JSON.stringify({ deliveryId, status: 'bewilligt', code: 'B-12', at: '2026-12-01T10:15:00+01:00' }));
    const done = path.join(dirOf(agency.name), 'milestones', 'done');
    await until(() => filesIn(done).includes('bescheid-1.json'), { what: 'the milestone in done/', timeoutMs: 30_000 });
    const rows = await readLog(d.exchange.hubDir);
    expect(milestonesOf(rows, deliveryId)).toEqual(['bewilligt']);
    const logged = rows.find((r) => r.type === 'HandOffMilestone')!;
    expect(logged.data).toMatchObject({ recipient: agency.dvdv, code: 'B-12', reportedAt: '2026-12-01T09:15:00.000Z' });
    // The read side the dashboard's timeline and the family page are drawn from.
    const store = openProjectionStore(':memory:', randomBytes(32), randomBytes(32));
    store.apply(rows.flatMap((r) => readFact(r.raw) ?? []), rows.length);
    const caseId = rows.find((r) => r.type === 'DeliveryScheduled' && r.data['deliveryId'] === deliveryId)!.stream;
    expect(store.milestonesOfCase(caseId).map((m) => [m.status, m.code])).toEqual([['bewilligt', 'B-12']]);
    store.close();
    expect(filesIn(path.join(dirOf(agency.name), 'milestones')).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 60_000);

  it("a milestone for another agency's delivery goes to failed/ with the hub's refusal; the hub records a security event and no milestone", async () => {
    const other = fka();
    const foreign = deliveries.get(egs().name)!;
    const before = await readLog(d.exchange.hubDir);
    drop(other.name, 'fremd.json', JSON.stringify({ deliveryId: foreign, status: 'ausgezahlt' }));
    const failed = path.join(dirOf(other.name), 'milestones', 'failed');
    await until(() => filesIn(failed).includes('fremd.json.error.json'), { what: 'the refusal in failed/', timeoutMs: 30_000 });
    expect(filesIn(failed)).toEqual(expect.arrayContaining(['fremd.json', 'fremd.json.error.json']));
    const error = JSON.parse(readFileSync(path.join(failed, 'fremd.json.error.json'), 'utf8')) as { error: { code: string; message: string }; hint: string };
    expect(error.error.code).toBe('not-recipient');
    expect(error.hint).toMatch(/only its recipient/);
    const after = await readLog(d.exchange.hubDir);
    const added = after.slice(before.length);
    expect(added.filter((r) => r.type === 'HandOffMilestone')).toEqual([]);
    expect(added.filter((r) => r.stream === 'security').map((r) => [r.data['code'], (r.data['subject'] as { dvdv?: string }).dvdv])).toContainEqual(['not-recipient', other.dvdv]);
    expect(milestonesOf(after, foreign)).toEqual(['bewilligt']);
  }, 60_000);

  it('bad JSON and an unknown status go to failed/ with a typed error; the connector keeps running', async () => {
    const agency = egs();
    drop(agency.name, 'kaputt.json', '{"deliveryId": ');
    drop(agency.name, 'status.json', JSON.stringify({ deliveryId: deliveries.get(agency.name), status: 'genehmigt' }));
    const failed = path.join(dirOf(agency.name), 'milestones', 'failed');
    await until(() => filesIn(failed).includes('kaputt.json.error.json') && filesIn(failed).includes('status.json.error.json'), { what: 'both in failed/', timeoutMs: 30_000 });
    const codeOf = (f: string) => (JSON.parse(readFileSync(path.join(failed, f), 'utf8')) as { error: { code: string } }).error.code;
    expect(codeOf('kaputt.json.error.json')).toBe('not-json');
    expect(codeOf('status.json.error.json')).toBe('invalid-milestone');
    expect(connectorOf(agency.name).running).toBe(true);
  }, 60_000);

  it('while the hub is down the file stays and is sent again; it is logged once the hub is back', async () => {
    const agency = egs();
    const deliveryId = deliveries.get(agency.name)!;
    const connector = connectorOf(agency.name);
    await hub.kill('SIGKILL');
    drop(agency.name, 'zahlung.json', JSON.stringify({ deliveryId, status: 'ausgezahlt' }));
    const dir = path.join(dirOf(agency.name), 'milestones');
    // The connector sent it and says it waits for the hub's answer; the file stays where it was.
    await until(() => awaitsHub(connector, agency.dvdv, deliveryId, 'ausgezahlt'), { what: 'the connector waits for the hub', timeoutMs: 30_000 });
    expect(filesIn(dir)).toContain('zahlung.json');
    expect(filesIn(path.join(dir, 'done'))).not.toContain('zahlung.json');
    hub.start();
    await hub.ready(/^ready:/m, 120_000);
    await until(() => filesIn(path.join(dir, 'done')).includes('zahlung.json'), { what: 'the milestone in done/ after the hub came back', timeoutMs: 60_000 });
    expect(milestonesOf(await readLog(d.exchange.hubDir), deliveryId).sort()).toEqual(['ausgezahlt', 'bewilligt']);
  }, 180_000);

  it('a connector killed (SIGKILL) after sending, before the answer: after its restart the file reaches done/, logged exactly once', async () => {
    const agency = fka();
    const deliveryId = deliveries.get(agency.name)!;
    const connector = connectorOf(agency.name);
    const dir = path.join(dirOf(agency.name), 'milestones');
    // No hub answers: the connector has sent the milestone (JetStream stored it) and waits.
    await hub.kill('SIGKILL');
    drop(agency.name, 'antrag.json', JSON.stringify({ deliveryId, status: 'in-bearbeitung' }));
    await until(() => awaitsHub(connector, agency.dvdv, deliveryId, 'in-bearbeitung'), { what: 'the connector sent it and waits', timeoutMs: 30_000 });
    await connector.kill('SIGKILL');
    // The hub logs the stored milestone; nobody is there to take the answer.
    hub.start();
    await hub.ready(/^ready:/m, 120_000);
    await until(async () => milestonesOf(await readLog(d.exchange.hubDir), deliveryId).length === 1, { what: 'the milestone logged', timeoutMs: 60_000 });
    expect(filesIn(dir)).toContain('antrag.json');
    connector.start();
    await connector.ready(/^ready:/m, 120_000);
    await until(() => filesIn(path.join(dir, 'done')).includes('antrag.json'), { what: 'the milestone in done/ after the restart', timeoutMs: 60_000 });
    expect(milestonesOf(await readLog(d.exchange.hubDir), deliveryId)).toEqual(['in-bearbeitung']);
  }, 180_000);
});
