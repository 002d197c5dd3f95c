// One final answer per delivery: the first acknowledgement or rejection is logged, a later
// contradicting one is a security event; a receipt is judged as of when the hub received it.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, certificateVerifier, keySetVerifier, receiptSubject, receivedHashOf, type Signer, type Verifier } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import type { SqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { caCertFileOf, caCertificate, crlFileOf, pkiInit, revocationSource, revoke } from '../../hub/src/pki/pki.ts';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { issueParty } from '../support/parties.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

describe.skipIf(!natsAvailable)('receipts: one final answer per delivery', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let keys: string;
  let agency: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    keys = tmp('rf-keys');
    agency = createKeyPair(keys, { name: 'egs', dvdv: 'egs:11000000', role: 'elterngeldstelle' });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  /** A log with one registered birth and its delivery to the Elterngeldstelle. */
  async function scheduledDelivery(log: SqliteEventStore, eintragsnummer: string, encryptTo?: X509Certificate) {
    const scheduler = startScheduler({ log, table: testRoutingTable, ...(encryptTo ? { encryptFor: () => ({ key: encryptTo.publicKey }) } : {}) });
    const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer } as never });
    await log.append(`birth-11007007-G-2026-${eintragsnummer}`, [toRecord(registered(b))]);
    await until(() => scheduler.stats.scheduled === 1, { timeoutMs: 10_000 });
    await scheduler.stop();
    const scheduled = (await collect(log.readAll())).find((e) => e.type === 'DeliveryScheduled')!;
    const data = (scheduled.data as { data: { deliveryId: string; payloadHash: string; payloadJwe?: string } }).data;
    // What a receipt names: the JWE's hash when the payload is encrypted, else the payload hash.
    return { deliveryId: data.deliveryId, receivedHash: receivedHashOf(data)! };
  }
  const publish = (receipt: object, signer: Signer) => jetstream(nc).publish(receiptSubject('egs:11000000'), JSON.stringify({ payload: receipt, signature: signer.sign(receipt) }));
  const finals = async (log: SqliteEventStore) => (await collect(log.readAll())).filter((e) => e.type === 'DeliveryAcknowledged' || e.type === 'DeliveryRejected');
  const securityCodes = async (log: SqliteEventStore) => (await collect(log.readAll())).filter((e) => e.stream === 'security').map((e) => (e.data as { data: { code: string } }).data.code);

  it('logs the first final answer only; a contradicting later receipt is a security event', async () => {
    const log = createMemoryEventStore();
    const { deliveryId, receivedHash } = await scheduledDelivery(log, 'F1');
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const base = { deliveryId, recipient: 'egs:11000000', receivedHash, receivedAt: new Date().toISOString() };
    await publish({ ...base, status: 'acknowledged' }, agency);
    await publish({ ...base, status: 'acknowledged' }, agency); // a redelivery: ignored quietly
    await publish({ ...base, status: 'rejected', reasonCode: 'no-application', reason: 'changed our mind' }, agency);
    await publish({ ...base, status: 'rejected', reasonCode: 'other', reason: 'and again' }, agency);
    await until(async () => (await securityCodes(log)).length >= 2, { timeoutMs: 10_000 });
    expect((await finals(log)).map((e) => e.type)).toEqual(['DeliveryAcknowledged']);
    expect(await securityCodes(log)).toEqual(['receipt-contradiction', 'receipt-contradiction']);
    await receipts.stop();
    await log.close();
  });

  it('does not log a new rejection per reason code', async () => {
    const log = createMemoryEventStore();
    const { deliveryId, receivedHash } = await scheduledDelivery(log, 'F2');
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const base = { deliveryId, recipient: 'egs:11000000', receivedHash, receivedAt: new Date().toISOString(), status: 'rejected' };
    await publish({ ...base, reasonCode: 'a', reason: 'first' }, agency);
    await publish({ ...base, reasonCode: 'b', reason: 'second' }, agency);
    await publish({ ...base, reasonCode: 'c', reason: 'third' }, agency);
    await until(async () => (await securityCodes(log)).length >= 2, { timeoutMs: 10_000 });
    const logged = await finals(log);
    expect(logged.map((e) => [e.type, (e.data as { data: { reasonCode: string } }).data.reasonCode])).toEqual([['DeliveryRejected', 'a']]);
    await receipts.stop();
    await log.close();
  });

  it('judges a receipt as of when the hub received it, not when a backlog is worked off', async () => {
    const pki = tmp('rf-pki');
    await pkiInit(pki);
    // A certificate that runs out a few seconds from now.
    const shortLived = await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'EGS Berlin' }, { days: 1, now: new Date(Date.now() - 86_400_000 + 3_000) });
    const signer = certificateSigner(shortLived.privateKey, shortLived.certificatePem);
    const verifier: Verifier = certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: revocationSource(pki) });
    const log = createMemoryEventStore();
    const { deliveryId, receivedHash } = await scheduledDelivery(log, 'F3', new X509Certificate(shortLived.certificatePem));
    const receipt = { deliveryId, recipient: 'egs:11000000', status: 'acknowledged', receivedHash, receivedAt: new Date().toISOString() };
    await publish(receipt, signer); // received while the certificate is valid
    const notAfter = Date.parse(new X509Certificate(shortLived.certificatePem).validTo);
    await until(() => Date.now() > notAfter + 200, { timeoutMs: 10_000 });
    // The hub was busy (or down): it processes the receipt only now.
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier });
    await until(() => receipts.stats.acknowledged + receipts.stats.refused >= 1, { timeoutMs: 10_000 });
    expect(await securityCodes(log)).toEqual([]);
    expect((await finals(log)).map((e) => e.type)).toEqual(['DeliveryAcknowledged']);
    await receipts.stop();
    await log.close();
  });

  it('a receipt received before its certificate was revoked counts; one received after does not', async () => {
    const pki = tmp('rf-pki-revoked');
    await pkiInit(pki);
    const egs = await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'EGS Berlin' });
    const signer = certificateSigner(egs.privateKey, egs.certificatePem);
    const trust = certificateTrust({ dir: egs.dir, caCertFile: caCertFileOf(pki), crlFile: crlFileOf(pki) });
    const log = createMemoryEventStore();
    const scheduler = startScheduler({ log, table: testRoutingTable, encryptFor: () => ({ key: new X509Certificate(egs.certificatePem).publicKey }) });
    for (const eintragsnummer of ['F4', 'F5']) {
      const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer } as never });
      await log.append(`birth-11007007-G-2026-${eintragsnummer}`, [toRecord(registered(b))]);
    }
    await until(() => scheduler.stats.scheduled === 2, { timeoutMs: 10_000 });
    await scheduler.stop();
    const [early, late] = (await collect(log.readAll())).filter((e) => e.type === 'DeliveryScheduled').map((e) => (e.data as { data: { deliveryId: string; payloadHash: string; payloadJwe?: string } }).data);
    if (!early || !late) throw new Error('two deliveries expected');
    const receiptOf = (d: { deliveryId: string; payloadHash: string; payloadJwe?: string }) => ({ deliveryId: d.deliveryId, recipient: 'egs:11000000', status: 'acknowledged', receivedHash: receivedHashOf(d), receivedAt: new Date().toISOString() });
    await publish(receiptOf(early), signer); // received while the certificate is good
    // CRL dates have whole seconds: revoke in a later second than the first receipt's.
    const receivedEarly = Date.now();
    await until(() => Math.floor(Date.now() / 1000) >= Math.floor(receivedEarly / 1000) + 2, { timeoutMs: 10_000 });
    await revoke(pki, egs.serial);
    await publish(receiptOf(late), signer); // received after the revocation
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier: trust.verifier });
    await until(() => receipts.stats.acknowledged + receipts.stats.refused >= 2, { timeoutMs: 10_000 });
    const acknowledged = (await finals(log)).map((e) => (e.data as { data: { deliveryId: string } }).data.deliveryId);
    expect(acknowledged).toEqual([early.deliveryId]);
    expect(await securityCodes(log)).toContain('certificate-revoked');
    await receipts.stop();
    await log.close();
  });
});
