// Erasure notices on the delivery path, component by component against a real nats-server:
// the scheduler derives one notice per recipient from CaseErased (a replay writes nothing
// twice), an agency connector acts only on a notice signed by the hub itself and addressed to
// it, once per notice id (a redelivered notice re-sends the kept receipt, a late redelivery of
// an erased delivery is not handed over again), and the hub logs an erasure receipt only from
// the notice's recipient.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deliverySubject,
  ed25519Signer,
  hubDerivedUuid,
  keySetVerifier,
  receiptSubject,
  type CaseErased,
  type ErasureNotice,
  type ErasureReceipt,
  type Signer,
} from '../../contracts/index.ts';
import { startElterngeldConnector } from '../../connectors/elterngeld/src/elterngeldConnector.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../../hub/src/log/records.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { erasureNotices, startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { testRoutingTable } from '../../hub/src/routing/testing.ts';
import { elterngeldDelivery } from '../support/deliveries.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { inReceiptFiles, receiptIdsOf } from '../support/receipts.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

const caseId = 'a'.repeat(32);
/** The case of the hub's test: the connector's receipts of the test before are not for it. */
const otherCaseId = 'b'.repeat(32);
const egsDvdv = 'egs:97000000';
const erased = (deliveryIds: string[], caseId = 'a'.repeat(32)): CaseErased => ({
  messageId: hubDerivedUuid('case-erased', caseId),
  type: 'CaseErased',
  schemaVersion: 1,
  occurredAt: '2026-11-10T10:00:00.000Z',
  producer: hubProducer as unknown as CaseErased['producer'],
  legalBasis: 'Art. 17 DSGVO',
  purpose: 'test',
  correlationId: hubDerivedUuid('case-erased', caseId),
  data: {
    caseId,
    erasedAt: '2026-11-10T10:00:00.000Z',
    reason: 'Art. 17 DSGVO: Löschung auf Antrag',
    recipients: [
      { role: 'elterngeldstelle', dvdv: egsDvdv as never, name: 'Elterngeldstelle Y', deliveryIds },
      { role: 'familienkasse', dvdv: 'fka:ost' as never, name: 'Familienkasse Ost', deliveryIds: [hubDerivedUuid('delivery', 'fka')] },
    ],
  },
});

describe.skipIf(!natsAvailable)('erasure notices on the delivery path', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let keys: string;
  let hub: Signer;
  let otherHub: Signer;
  let egs: Signer;
  let fka: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    keys = tmp('keys');
    hub = createKeyPair(keys, { name: 'hub', dvdv: 'hub:elfe-hub', role: 'hub' });
    otherHub = createKeyPair(keys, { name: 'hub-ingress', dvdv: 'hub:ingress', role: 'hub' });
    egs = createKeyPair(keys, { name: 'egs-y', dvdv: egsDvdv, role: 'elterngeldstelle' });
    fka = createKeyPair(keys, { name: 'fka-ost', dvdv: 'fka:ost', role: 'familienkasse' });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  it('the scheduler logs one notice per recipient of an erased case, and a replay writes nothing twice', async () => {
    const log = createMemoryEventStore();
    const event = erased([hubDerivedUuid('delivery', 'egs')]);
    await log.append(`birth-${caseId}`, [toRecord(event)]);
    for (let run = 0; run < 2; run++) {
      const scheduler = startScheduler({ log, table: testRoutingTable });
      await until(async () => (await collect(log.readAll())).filter((e) => e.type === 'ErasureNoticeScheduled').length === 2 && scheduler.stats.position >= 1, { timeoutMs: 15_000 });
      await scheduler.stop();
    }
    const notices = (await collect(log.readAll())).filter((e) => e.type === 'ErasureNoticeScheduled');
    expect(notices.map((n) => n.stream)).toEqual([`erasure-${caseId}`, `erasure-${caseId}`]);
    expect(notices.map((n) => n.eventId)).toEqual(erasureNotices(event, notices[0]!.recordedAt).map((n) => n.messageId));
    await log.close();
  });

  it('a connector acts once per notice id, only on a notice signed by the hub itself and addressed to it', async () => {
    const inbox = tmp('inbox');
    const stateDir = tmp('state');
    const connector = await startElterngeldConnector({
      nc,
      dvdv: egsDvdv,
      name: 'Elterngeldstelle Y',
      signer: egs,
      hubVerifier: keySetVerifier(loadTrustedKeys(keys).filter((k) => k.identity.role === 'hub')),
      inboxDir: inbox,
      stateDir,
      author: () => ({ dvdv: 'psw:11007007', name: 'Standesamt', phone: '030 1', address: { postcode: '10178', city: 'Berlin' } }),
    });
    const js = jetstream(nc);
    const delivery = (deliveryId: string) => elterngeldDelivery(deliveryId, { dvdv: egsDvdv, name: 'Elterngeldstelle Y' });
    const erasedId = hubDerivedUuid('delivery', 'erased');
    const keptId = hubDerivedUuid('delivery', 'kept');
    for (const id of [erasedId, keptId]) await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: delivery(id), signature: hub.sign(delivery(id)) }), { msgID: id });
    await until(() => connector.stats.handled === 2, { timeoutMs: 15_000 });
    expect(readdirSync(inbox).sort()).toEqual([`${erasedId}.xml`, `${keptId}.xml`].sort());
    const kept = readFileSync(path.join(inbox, `${keptId}.xml`), 'utf8');

    const notice: ErasureNotice = {
      type: 'erasure-notice',
      noticeId: hubDerivedUuid('erasure-notice', caseId, egsDvdv),
      recipient: { role: 'elterngeldstelle', dvdv: egsDvdv as never, name: 'Elterngeldstelle Y' },
      deliveryIds: [erasedId],
      erasedAt: '2026-11-10T10:00:00.000Z',
      reason: 'Art. 17 DSGVO: Löschung auf Antrag',
      legalBasis: 'Art. 17 DSGVO',
      logPosition: 7,
      scheduledAt: '2026-11-10T10:00:00.000Z',
    };
    // Forged (a key that claims the hub), by another hub identity, for another recipient: none acted on.
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey, { dvdv: 'hub:elfe-hub', role: 'hub', name: 'forger' });
    const foreign = { ...notice, recipient: { ...notice.recipient, dvdv: 'egs:96000000' as never } };
    await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: notice, signature: forger.sign(notice) }), { msgID: 'forged-notice' });
    await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: notice, signature: otherHub.sign(notice) }), { msgID: 'other-hub-notice' });
    await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: foreign, signature: hub.sign(foreign) }), { msgID: 'foreign-notice' });
    await until(() => connector.stats.refused === 3, { timeoutMs: 15_000 });
    expect(readdirSync(inbox).sort()).toEqual([`${erasedId}.xml`, `${keptId}.xml`].sort());
    expect(connector.stats.erased).toBe(0);

    // The genuine notice, twice (the second beyond the duplicate window: another message id).
    for (const msgID of [notice.noticeId, `${notice.noticeId}-again`]) await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: notice, signature: hub.sign(notice) }), { msgID });
    await until(() => connector.stats.erased === 1 && connector.stats.redelivered >= 1, { timeoutMs: 15_000 });
    const noticeFile = `erasure-${notice.noticeId}.json`;
    expect(readdirSync(inbox).sort()).toEqual([noticeFile, `${keptId}.xml`].sort());
    expect(readFileSync(path.join(inbox, `${keptId}.xml`), 'utf8')).toBe(kept);
    expect(JSON.parse(readFileSync(path.join(inbox, noticeFile), 'utf8'))).toMatchObject({ noticeId: notice.noticeId, erasedDeliveries: [erasedId], removedFiles: [`${erasedId}.xml`] });
    // The connector's state about the erased delivery: its receipt's row, gone from receipts.sqlite and its WAL.
    expect(receiptIdsOf(stateDir)).toEqual([keptId]);
    expect(inReceiptFiles(stateDir, [erasedId, keptId])).toEqual([keptId]);

    // A late redelivery of the erased delivery is not handed over again.
    const received = connector.stats.received;
    await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: delivery(erasedId), signature: hub.sign(delivery(erasedId)) }), { msgID: `${erasedId}-late` });
    await until(() => connector.stats.received > received, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(inbox).sort()).toEqual([noticeFile, `${keptId}.xml`].sort());
    await connector.stop();
  });

  it("the hub logs an erasure receipt only from the notice's recipient, once", async () => {
    const log = createMemoryEventStore();
    const egsDelivery = hubDerivedUuid('delivery', 'egs-2');
    const [notice] = erasureNotices(erased([egsDelivery], otherCaseId), '2026-11-10T10:00:01.000Z');
    await log.append(`erasure-${otherCaseId}`, [toRecord(notice!)]);
    const hubVerifier = keySetVerifier(loadTrustedKeys(keys));
    const processor = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier: hubVerifier });
    const js = jetstream(nc);
    const receipt = (recipient: string, deliveryIds = [egsDelivery]): ErasureReceipt => ({ type: 'erasure-receipt', noticeId: notice!.data.noticeId, recipient: recipient as never, status: 'erased', deliveryIds, erasedAt: '2026-11-10T10:00:05.000Z' });
    const send = (r: ErasureReceipt, signer: Signer, msgID: string) => js.publish(receiptSubject(r.recipient), JSON.stringify({ payload: r, signature: signer.sign(r) }), { msgID });
    // Another agency, for itself; another agency, in the recipient's name; the recipient, naming other deliveries.
    await send(receipt('fka:ost'), fka, 'r1');
    await send(receipt(egsDvdv), fka, 'r2');
    await send(receipt(egsDvdv, [hubDerivedUuid('delivery', 'other')]), egs, 'r3');
    // Refusals of this notice's receipts (the stream also holds the connector's receipts of the test before, for other notices and deliveries).
    const refusals = async () =>
      (await collect(log.readAll()))
        .filter((e) => e.stream === 'security')
        .map((e) => fromRecord(e)?.data as { code: string; reason: string })
        .filter((d) => d.reason.includes(notice!.data.noticeId))
        .map((d) => d.code)
        .sort();
    await until(async () => (await refusals()).length === 3, { timeoutMs: 15_000 });
    expect(await refusals()).toEqual(['erasure-mismatch', 'producer-mismatch', 'wrong-recipient']);
    // The recipient, twice.
    await send(receipt(egsDvdv), egs, 'r4');
    await send(receipt(egsDvdv), egs, 'r5');
    await until(() => processor.stats.erasuresConfirmed === 1 && processor.stats.repeated === 1, { timeoutMs: 15_000 });
    const entries = await collect(log.readAll());
    const confirmed = entries.filter((e) => e.type === 'ErasureConfirmed');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]).toMatchObject({ stream: `erasure-${otherCaseId}`, data: { data: { noticeId: notice!.data.noticeId, recipient: egsDvdv, deliveryIds: [egsDelivery] } } });
    expect((confirmed[0]!.metadata as { signed: { payload: unknown } }).signed.payload).toEqual(receipt(egsDvdv));
    await processor.stop();
    await log.close();
  });
});
