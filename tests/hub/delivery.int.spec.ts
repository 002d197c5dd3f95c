// Components of the delivery path against a real nats-server: the Standesamt's outbox while
// the hub is down, an agency connector facing a forged delivery, dead letters.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalHash, deliverySubject, ed25519Signer, encryptPayload, encryptReason, keySetVerifier, toElterngeldDataSet, toKindergeldDataSet, type Delivery, type Signer } from '../../contracts/index.ts';
import { idNrFrom, sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { startFamilienkasseConnector } from '../../connectors/familienkasse/src/familienkasseConnector.ts';
import { startElterngeldConnector } from '../../connectors/elterngeld/src/elterngeldConnector.ts';
import { StandesamtConnector } from '../../connectors/standesamt/src/standesamtConnector.ts';
import { ensureAgencyConsumer, ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { corrected, registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { startRelay } from '../../hub/src/relay/relay.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { elterngeldDelivery } from '../support/deliveries.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

describe.skipIf(!natsAvailable)('delivery path components', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let keys: string;
  let hub: Signer;
  let standesamt: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    keys = tmp('keys');
    hub = createKeyPair(keys, { name: 'hub', dvdv: 'hub:elfe-hub', role: 'hub' });
    standesamt = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  it('the Standesamt outbox keeps submissions while the hub is down and sends them, in order, when it is back', async () => {
    const connector = new StandesamtConnector({ nc, signer: standesamt, outboxFile: path.join(tmp('outbox'), 'outbox.sqlite'), timeoutMs: 500, retryMs: 100 });
    const birth = sampleBirthRegistration();
    const first = registered(birth);
    const second = corrected({ ...birth, zuordnungGeburtsanzeige: 'GA-2' });
    await connector.submit(first);
    await connector.submit(second);
    expect(connector.counts()).toEqual({ pending: 2, accepted: 0, refused: 0 });
    const log = createMemoryEventStore();
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    await until(() => connector.counts().accepted === 2, { timeoutMs: 15_000 });
    const entries = await collect(log.readAll());
    expect(entries.map((e) => e.eventId)).toEqual([first.messageId, second.messageId]);
    await connector.close();
    await ingress.stop();
    await log.close();
  });

  it('an agency connector writes a genuine delivery once and never acts on a forged one', async () => {
    const egs = createKeyPair(keys, { name: 'egs-x', dvdv: 'egs:99000000', role: 'elterngeldstelle' });
    const inbox = tmp('inbox');
    const connector = await startElterngeldConnector({
      nc,
      dvdv: 'egs:99000000',
      name: 'Elterngeldstelle X',
      signer: egs,
      hubVerifier: keySetVerifier(loadTrustedKeys(keys).filter((k) => k.identity.role === 'hub')),
      inboxDir: inbox,
      stateDir: tmp('state'),
      author: () => ({ dvdv: 'psw:11007007', name: 'Standesamt', phone: '030 1', address: { postcode: '10178', city: 'Berlin' } }),
    });
    const delivery = (deliveryId: string) => elterngeldDelivery(deliveryId, { dvdv: 'egs:99000000', name: 'Elterngeldstelle X' });
    const js = jetstream(nc);
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey, { dvdv: 'hub:elfe-hub', role: 'hub', name: 'forger' });
    const forged = delivery('7f1e8c36-5c55-4a8e-9d0e-111111111111');
    await js.publish(deliverySubject('egs:99000000'), JSON.stringify({ payload: forged, signature: forger.sign(forged) }), { msgID: forged.deliveryId });
    const genuine = delivery('7f1e8c36-5c55-4a8e-9d0e-222222222222');
    for (let i = 0; i < 3; i++) {
      await js.publish(deliverySubject('egs:99000000'), JSON.stringify({ payload: genuine, signature: hub.sign(genuine) }), { msgID: `${genuine.deliveryId}-${i}` });
    }
    await until(() => connector.stats.received >= 4, { timeoutMs: 15_000 });
    await until(() => connector.stats.handled + connector.stats.redelivered >= 3, { timeoutMs: 15_000 });
    expect(readdirSync(inbox)).toEqual([`${genuine.deliveryId}.xml`]);
    expect(connector.stats.refused).toBe(1);
    expect(connector.stats.handled).toBe(1);
    await connector.stop();
  });

  it('a correction reaches the Elterngeldstelle as a 131011 naming the corrected message, with the reason beside it, and the Familienkasse as kind correction with the reason', async () => {
    const reason = 'Berichtigung (§ 47 PStG): Vorname der Mutter';
    const hubVerifier = keySetVerifier(loadTrustedKeys(keys).filter((k) => k.identity.role === 'hub'));
    const js = jetstream(nc);
    const birth = sampleBirthRegistration();
    const earlier = { egs: 'e1fe0001-5c55-8a8e-9d0e-555555555501', fka: 'e1fe0001-5c55-8a8e-9d0e-555555555502' };
    const ids = { egs: 'e1fe0001-5c55-8a8e-9d0e-555555555503', fka: 'e1fe0001-5c55-8a8e-9d0e-555555555504' };

    // The Elterngeldstelle, with confidential payloads: the reason travels as a JWE for its key too.
    const egsKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const egsInbox = tmp('egs-corr-inbox');
    const egs = await startElterngeldConnector({
      nc,
      dvdv: 'egs:98000000',
      name: 'Elterngeldstelle Z',
      signer: createKeyPair(keys, { name: 'egs-z', dvdv: 'egs:98000000', role: 'elterngeldstelle' }),
      hubVerifier,
      inboxDir: egsInbox,
      stateDir: tmp('egs-corr-state'),
      decryptionKey: egsKeys.privateKey,
      author: () => ({ dvdv: 'psw:11007007', name: 'Standesamt', phone: '030 1', address: { postcode: '10178', city: 'Berlin' } }),
    });
    const set = toElterngeldDataSet(birth);
    if (!set.success) throw new Error(set.reason);
    const toEgs: Delivery = {
      deliveryId: ids.egs,
      recipient: { role: 'elterngeldstelle', dvdv: 'egs:98000000' as never, name: 'Elterngeldstelle Z' },
      kind: 'correction',
      legalBasis: '§ 57 Abs. 1 Nr. 8 PStV',
      purpose: 'test',
      payloadJwe: await encryptPayload(set.data, egsKeys.publicKey, ids.egs),
      payloadHash: canonicalHash(set.data),
      correction: { corrects: earlier.egs, reasonJwe: await encryptReason(reason, egsKeys.publicKey, ids.egs) },
      logPosition: 5,
      scheduledAt: '2026-11-06T10:00:00.000Z',
    };
    const body = JSON.stringify({ payload: toEgs, signature: hub.sign(toEgs) });
    // What sits in JetStream names the corrected delivery, never the reason.
    expect(body).toContain(earlier.egs);
    expect(body).not.toContain('Vorname');
    await js.publish(deliverySubject('egs:98000000'), body, { msgID: ids.egs });

    // The Familienkasse, with plain payloads (no encryption configured at the hub).
    const fkaInbox = tmp('fka-corr-inbox');
    const fka = await startFamilienkasseConnector({
      nc,
      dvdv: 'fka:z',
      signer: createKeyPair(keys, { name: 'fka-z', dvdv: 'fka:z', role: 'familienkasse' }),
      hubVerifier,
      inboxDir: fkaInbox,
      stateDir: tmp('fka-corr-state'),
    });
    const kg = toKindergeldDataSet(birth, { childIdNr: idNrFrom('4817263940') });
    if (!kg.success) throw new Error(kg.reason);
    const toFka: Delivery = {
      deliveryId: ids.fka,
      recipient: { role: 'familienkasse', dvdv: 'fka:z' as never, name: 'FK Z' },
      kind: 'correction',
      legalBasis: 'x',
      purpose: 'x',
      payload: kg.data,
      payloadHash: canonicalHash(kg.data),
      correction: { corrects: earlier.fka, reason },
      logPosition: 6,
      scheduledAt: '2026-11-06T10:00:00.000Z',
    };
    await js.publish(deliverySubject('fka:z'), JSON.stringify({ payload: toFka, signature: hub.sign(toFka) }), { msgID: ids.fka });

    await until(() => egs.stats.handled === 1 && fka.stats.handled === 1, { timeoutMs: 15_000 });
    expect(readdirSync(egsInbox).sort()).toEqual([`${ids.egs}.meta.json`, `${ids.egs}.xml`]);
    const xml = readFileSync(path.join(egsInbox, `${ids.egs}.xml`), 'utf8');
    expect(xml).toMatch(new RegExp(`<xp:vorgangsidentifikation>\\s*<ereignis\\.zeitpunkt>2026-11-06T10:00:00\\.000Z</ereignis\\.zeitpunkt>\\s*<ereignis\\.zeichen>Berichtigung-${earlier.egs}</ereignis\\.zeichen>`));
    expect(JSON.parse(readFileSync(path.join(egsInbox, `${ids.egs}.meta.json`), 'utf8'))).toEqual({ deliveryId: ids.egs, kind: 'correction', corrects: earlier.egs, reason });
    const fkaFile = JSON.parse(readFileSync(path.join(fkaInbox, `${ids.fka}.json`), 'utf8')) as Record<string, unknown>;
    expect(fkaFile).toMatchObject({ deliveryId: ids.fka, kind: 'correction', correction: { corrects: earlier.fka, reason } });
    await egs.stop();
    await fka.stop();
  });

  it('a delivery that is never acknowledged becomes a dead letter in the log', async () => {
    const log = createMemoryEventStore();
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const receipts = await startReceiptProcessor({ nc, js, jsm, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const dvdv = 'fka:deadletter';
    const name = await ensureAgencyConsumer(jsm, dvdv, { maxDeliver: 2, ackWaitMs: 200 });
    const deliveryId = '7f1e8c36-5c55-4a8e-9d0e-333333333333';
    await js.publish(deliverySubject(dvdv), JSON.stringify({ payload: { deliveryId, recipient: { dvdv } } }), { msgID: deliveryId });
    const consumer = await js.consumers.get('ELFE_DELIVERIES', name);
    // An agency that keeps failing: it takes the delivery and never acknowledges it.
    for (let i = 0; i < 3; i++) await consumer.next({ expires: 1000 });
    await until(async () => (await collect(log.readAll())).some((e) => e.type === 'DeliveryDeadLettered'), { timeoutMs: 15_000 });
    const dead = (await collect(log.readAll())).find((e) => e.type === 'DeliveryDeadLettered');
    expect(dead?.stream).toBe(`delivery-${deliveryId}`);
    expect((dead?.data as { data: { deliveryAttempts: number } }).data.deliveryAttempts).toBe(2);
    await receipts.stop();
    await log.close();
  });

  it('the relay resumes after what the stream holds: a restart publishes nothing twice', async () => {
    const log = createMemoryEventStore();
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.purge('ELFE_DELIVERIES');
    const scheduler = startScheduler({ log, table: testRoutingTable });
    for (let i = 0; i < 20; i++) {
      const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: `R${i}` } as never });
      await log.append(`birth-11007007-G-2026-R${i}`, [toRecord(registered(b))]);
    }
    await until(() => scheduler.stats.scheduled === 20, { timeoutMs: 15_000 });
    const first = await startRelay({ js, jsm, log, signer: hub });
    await until(() => first.stats.published === 20, { timeoutMs: 15_000 });
    await first.stop();
    const second = await startRelay({ js, jsm, log, signer: hub });
    expect(second.stats.resumedFrom).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.stats.published + second.stats.duplicates).toBe(0);
    expect((await jsm.streams.info('ELFE_DELIVERIES')).state.messages).toBe(20);
    await second.stop();
    await scheduler.stop();
    await log.close();
  });

  it('the Familienkasse connector refuses a payload that is not its data set, with a rejected receipt', async () => {
    const fk = createKeyPair(keys, { name: 'fka-y', dvdv: 'fka:y', role: 'familienkasse' });
    const inbox = tmp('fk-inbox');
    const connector = await startFamilienkasseConnector({ nc, dvdv: 'fka:y', signer: fk, hubVerifier: keySetVerifier(loadTrustedKeys(keys).filter((k) => k.identity.role === 'hub')), inboxDir: inbox, stateDir: tmp('fk-state') });
    const set = toElterngeldDataSet(sampleBirthRegistration());
    if (!set.success) throw new Error(set.reason);
    const wrong: Delivery = { deliveryId: '7f1e8c36-5c55-4a8e-9d0e-444444444444', registerKey: set.data.registerKey, recipient: { role: 'familienkasse', dvdv: 'fka:y' as never, name: 'FK' }, kind: 'initial', legalBasis: 'x', purpose: 'x', payload: set.data, payloadHash: canonicalHash(set.data), logPosition: 2, scheduledAt: '2026-11-05T10:00:00.000Z' };
    await jetstream(nc).publish(deliverySubject('fka:y'), JSON.stringify({ payload: wrong, signature: hub.sign(wrong) }), { msgID: wrong.deliveryId });
    await until(() => connector.stats.handled === 1, { timeoutMs: 15_000 });
    expect(existsSync(path.join(inbox, `${wrong.deliveryId}.json`))).toBe(false);
    await connector.stop();
  });
});
