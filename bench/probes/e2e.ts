// End-to-end figures: births per second until every delivery is acknowledged, latency at
// fixed offered rates, and the raw JetStream publish rate (same server settings) beside them.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BirthRegisteredDataSchema, certificateSigner, deterministicUuid, type BirthRegistered, type Signer } from '../../contracts/index.ts';
import { StandesamtConnector } from '../../connectors/standesamt/src/standesamtConnector.ts';
import { startHub } from '../../hub/src/app/hub.ts';
import { keysDirOf, parseConfig, pkiDirOf } from '../../hub/src/config/config.ts';
import { ensureCa, ensurePartyCertificate, readParty } from '../../hub/src/pki/parties.ts';
import { findNatsServer, startLocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { loadOrCreateSigner } from '../../hub/src/keys/keyDirectory.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';
import { percentile, type Figure, type Section } from '../report.ts';

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

interface RunResult {
  readonly birthsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly deliveries: number;
}

/** Offers `births` registrations (with IdNrs, so both agencies receive) at `rate` per second (Infinity: all at once). */
async function e2eRun(births: number, rate: number, seed: number, trust: 'keys' | 'pki' = 'keys'): Promise<RunResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-bench-e2e-'));
  const config = parseConfig({ dataDir, trust: { mode: trust } });
  const keysDir = keysDirOf(config);
  const signers = new Map<string, Signer>();
  if (trust === 'pki') ensureCa(pkiDirOf(config));
  for (const s of config.standesaemter) {
    const name = `sta-${s.standesamtsnummer}`;
    if (trust === 'keys') signers.set(s.standesamtsnummer, loadOrCreateSigner(keysDir, { name, dvdv: `psw:${s.standesamtsnummer}`, role: 'standesamt' }));
    else {
      const party = readParty(ensurePartyCertificate(pkiDirOf(config), { name, dvdv: `psw:${s.standesamtsnummer}`, role: 'standesamt', displayName: s.name }));
      signers.set(s.standesamtsnummer, certificateSigner(party.privateKey, party.certificatePem));
    }
  }
  const hub = await startHub(config);
  const connectors = new Map<string, StandesamtConnector>();
  const connections: NatsConnection[] = [];
  for (const s of config.standesaemter) {
    const nc = await connect({ servers: hub.natsUrl, ...hub.connectOptionsFor(`sta-${s.standesamtsnummer}`) });
    connections.push(nc);
    connectors.set(s.standesamtsnummer, new StandesamtConnector({ nc, signer: signers.get(s.standesamtsnummer)!, outboxFile: path.join(dataDir, `sta-${s.standesamtsnummer}.sqlite`), concurrency: 64 }));
  }
  const scenarios = makeScenarios({ births, seed, standesaemter: config.standesaemter });
  const sent = new Map<string, number>();
  const pendingDeliveries = new Map<string, number>();
  const done: number[] = [];
  let acked = 0;
  const scheduledBy = new Map<string, string>();
  const watch = hub.log.subscribe(0);
  const watching = (async () => {
    for await (const stored of watch) {
      const event = fromRecord(stored);
      if (event?.type === 'DeliveryScheduled') {
        scheduledBy.set(event.data.deliveryId, event.causationId ?? '');
        pendingDeliveries.set(event.causationId ?? '', (pendingDeliveries.get(event.causationId ?? '') ?? 0) + 1);
      } else if (event?.type === 'DeliveryAcknowledged') {
        acked++;
        const cause = scheduledBy.get(event.data.deliveryId) ?? '';
        const left = (pendingDeliveries.get(cause) ?? 1) - 1;
        pendingDeliveries.set(cause, left);
        if (left === 0 && sent.has(cause)) done.push(Date.parse(stored.recordedAt) - sent.get(cause)!);
      }
    }
  })();
  const t0 = Date.now();
  for (let i = 0; i < scenarios.length; i++) {
    const s = scenarios[i]!;
    if (Number.isFinite(rate)) {
      const due = t0 + (i / rate) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    const registration = BirthRegisteredDataSchema.parse({ ...s.registration, child: { ...s.registration.child, idnr: s.childIdNr }, parent1: { ...s.registration.parent1, idnr: s.parent1IdNr } });
    const messageId = deterministicUuid('bench', String(seed), String(i));
    const event: BirthRegistered = {
      messageId,
      type: 'BirthRegistered',
      schemaVersion: 1,
      occurredAt: new Date().toISOString(),
      producer: { dvdv: `psw:${s.standesamt.standesamtsnummer}` as never, name: s.standesamt.name, role: 'standesamt' },
      legalBasis: '§ 21 PStG',
      purpose: 'benchmark',
      correlationId: messageId,
      data: registration,
    };
    sent.set(messageId, Date.now());
    void connectors.get(s.standesamt.standesamtsnummer)!.submit(event);
  }
  const deadline = Date.now() + 300_000;
  while (done.length < births && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (Date.now() - t0) / 1000;
  for (const c of connectors.values()) await c.close();
  for (const nc of connections) await nc.close();
  await watch.close();
  await hub.stop();
  await watching;
  rmSync(dataDir, { recursive: true, force: true });
  if (done.length < births) throw new Error(`only ${done.length} of ${births} births fully acknowledged`);
  return { birthsPerSecond: births / elapsed, p50: percentile(done, 50), p99: percentile(done, 99), deliveries: acked };
}

export async function e2eProbe(): Promise<Section[]> {
  if (!findNatsServer()) return [{ name: 'End to end (NATS + log + connectors)', figures: [], skipped: 'nats-server >= 2.10 not found (scripts/setup.sh)' }];
  const figures: Figure[] = [];
  const raw: Figure[] = [{ key: 'raw.jetstream.publish', label: 'raw JetStream publishes/s (acked, file store, sync always, 256 in flight)', value: await rawJetStream(5, 256), unit: '/s' }];
  const max = await e2eRun(1000, Number.POSITIVE_INFINITY, 1);
  figures.push({ key: 'e2e.births.max', label: 'births/s, 1000 offered at once (2 deliveries each, all acknowledged)', value: max.birthsPerSecond, unit: '/s' });
  // Each birth costs four JetStream publishes: two deliveries, two receipts.
  figures.push({ key: 'e2e.publishes.max', label: '  JetStream publishes/s that load causes (4 per birth)', value: max.birthsPerSecond * 4, unit: '/s', limit: 'raw.jetstream.publish' });
  figures.push({ key: 'e2e.latency.max.p50', label: '  latency p50 at that load', value: max.p50, unit: 'ms' });
  figures.push({ key: 'e2e.latency.max.p99', label: '  latency p99 at that load', value: max.p99, unit: 'ms' });
  const pki = await e2eRun(1000, Number.POSITIVE_INFINITY, 2, 'pki');
  figures.push({ key: 'e2e.births.max.pki', label: 'births/s, same load, with certificates, TLS and JWE payloads', value: pki.birthsPerSecond, unit: '/s' });
  figures.push({ key: 'e2e.latency.max.pki.p50', label: '  latency p50 at that load (pki)', value: pki.p50, unit: 'ms' });
  figures.push({ key: 'e2e.latency.max.pki.p99', label: '  latency p99 at that load (pki)', value: pki.p99, unit: 'ms' });
  for (const rate of [10, 50, 100]) {
    const r = await e2eRun(rate * 5, rate, 100 + rate, 'pki');
    figures.push({ key: `e2e.rate${rate}.births`, label: `births/s achieved at ${rate}/s offered (pki)`, value: r.birthsPerSecond, unit: '/s' });
    figures.push({ key: `e2e.rate${rate}.p50`, label: `  latency p50 at ${rate}/s`, value: r.p50, unit: 'ms' });
    figures.push({ key: `e2e.rate${rate}.p99`, label: `  latency p99 at ${rate}/s`, value: r.p99, unit: 'ms' });
  }
  return [
    { name: 'End to end (NATS + log + connectors)', figures },
    { name: 'Raw limit: JetStream', figures: raw },
  ];
}
