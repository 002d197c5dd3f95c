// The hub with certificates: submissions and receipts signed with certificates the CA did not
// issue, that expired or were revoked are refused with typed errors and security events; the
// data in the log stays as it was. A recipient without a valid certificate gets nothing,
// visibly.
import { X509Certificate } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSigner,
  certificateVerifier,
  receiptSubject,
  receivedHashOf,
  SubmissionReplySchema,
  type Signer,
} from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import type { SqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { crlSource } from '../../connectors/kit/credentials.ts';
import { caCertificate, crlFileOf, pkiInit, revocationSource, revoke } from '../../hub/src/pki/pki.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { issueParty, tmpDir as tmp, type TestParty } from '../support/parties.ts';
import { until } from '../../hub/src/runner/until.ts';

const signerOf = (c: TestParty): Signer => certificateSigner(c.privateKey, c.certificatePem);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

describe.skipIf(!natsAvailable)('the hub with certificates', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let pki: string;
  let store: SqliteEventStore;
  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    pki = tmp('pki');
    await pkiInit(pki);
    store = createMemoryEventStore();
  });
  afterAll(async () => {
    await nc.close();
    await store.close();
    await nats.stop();
  });

  it('refuses submissions under a foreign, expired or revoked certificate, recording security events only', async () => {
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: crlSource(crlFileOf(pki), caCertificate(pki)) });
    const ingress = startIngress({ nc, log: store, verifier });
    const send = async (signer: Signer, eintrag: string) => {
      const event = registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: eintrag } as never }));
      const reply = await requestAs(nc, signer.identity.dvdv, JSON.stringify({ payload: event, signature: signer.sign(event) }));
      const parsed = SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
      return parsed.ok ? 'ok' : parsed.error.code;
    };
    const good = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Test' });
    const foreignDir = tmp('foreign');
    await pkiInit(foreignDir);
    const foreign = await issueParty(foreignDir, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Impostor' });
    const expired = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Old' }, { days: 1, now: daysAgo(5) });
    const revoked = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:11007007', name: 'Revoked' });
    const receiptsOnly = await issueParty(pki, { role: 'familienkasse', dvdv: 'fka:ost', name: 'FK' });
    expect(await send(signerOf(good), '1')).toBe('ok');
    // Submissions only: security events aside, and the signer certificates the log keeps once each (`certificates`).
    const submitted = (e: { stream: string }) => e.stream !== 'security' && e.stream !== 'certificates';
    const before = (await collect(store.readAll())).filter(submitted).length;
    expect(await send(signerOf(foreign), '2')).toBe('certificate-invalid');
    expect(await send(signerOf(expired), '3')).toBe('certificate-expired');
    expect(await send(signerOf(revoked), '4')).toBe('ok');
    await revoke(pki, revoked.serial);
    expect(await send(signerOf(revoked), '5')).toBe('certificate-revoked');
    expect(await send(signerOf(receiptsOnly), '6')).toBe('role-not-allowed');
    const after = await collect(store.readAll());
    expect(after.filter(submitted).length).toBe(before + 1);
    expect(after.filter((e) => e.stream === 'security').map((e) => (e.data as { data: { code: string } }).data.code)).toEqual(
      expect.arrayContaining(['certificate-invalid', 'certificate-expired', 'certificate-revoked', 'role-not-allowed']),
    );
    await ingress.stop();
  });

  it('refuses a forged or altered receipt, and accepts the genuine one once', async () => {
    const log = createMemoryEventStore();
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: revocationSource(pki) });
    const agency = await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'EGS Berlin' });
    const other = await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:04011000', name: 'EGS Bremen' });
    const scheduler = startScheduler({ log, table: testRoutingTable, encryptFor: () => ({ key: new X509Certificate(agency.certificatePem).publicKey }) });
    await log.append('birth-11007007-G-2026-334', [toRecord(registered())]);
    await until(() => scheduler.stats.scheduled === 1, { timeoutMs: 10_000 });
    const scheduled = (await collect(log.readAll())).find((e) => e.type === 'DeliveryScheduled')!;
    const { deliveryId, payloadHash, payloadJwe } = (scheduled.data as { data: { deliveryId: string; payloadHash: string; payloadJwe?: string } }).data;
    expect(payloadJwe).toBeDefined();
    const js = jetstream(nc);
    const receipts = await startReceiptProcessor({ nc, js, jsm: await jetstreamManager(nc), log, verifier });
    // The receipt names the JWE's hash, never the plaintext's.
    expect(receivedHashOf({ payloadJwe, payloadHash })).not.toBe(payloadHash);
    const receipt = { deliveryId, recipient: 'egs:11000000', status: 'acknowledged', receivedHash: receivedHashOf({ payloadJwe, payloadHash }), receivedAt: new Date().toISOString() };
    const publish = (body: unknown) => js.publish(receiptSubject('egs:11000000'), JSON.stringify(body));
    await publish({ payload: receipt, signature: signerOf(other).sign(receipt) }); // someone else's certificate
    const altered = { ...receipt, receivedHash: '0'.repeat(64) };
    await publish({ payload: altered, signature: signerOf(agency).sign(receipt) }); // altered after signing
    await publish({ payload: receipt, signature: signerOf(agency).sign(receipt) });
    await publish({ payload: receipt, signature: signerOf(agency).sign(receipt) });
    await until(async () => receipts.stats.acknowledged + receipts.stats.refused >= 3, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    const entries = await collect(log.readAll());
    expect(entries.filter((e) => e.type === 'DeliveryAcknowledged')).toHaveLength(1);
    expect(entries.filter((e) => e.stream === 'security').map((e) => (e.data as { data: { code: string } }).data.code)).toEqual(['producer-mismatch', 'signature-invalid']);
    await receipts.stop();
    await scheduler.stop();
    await log.close();
  });

  it('holds back deliveries to a recipient whose certificate expired, visibly', async () => {
    const log = createMemoryEventStore();
    const held: string[] = [];
    const scheduler = startScheduler({
      log,
      table: testRoutingTable,
      encryptFor: () => ({ reason: 'the recipient\'s certificate expired' }),
      onUndeliverable: (_id, dvdv, reason) => held.push(`${dvdv}: ${reason}`),
    });
    await log.append('birth-11007007-G-2026-334', [toRecord(registered())]);
    await until(() => scheduler.stats.undeliverable === 1, { timeoutMs: 10_000 });
    expect(held).toEqual(['egs:11000000: the recipient\'s certificate expired']);
    expect((await collect(log.readAll())).filter((e) => e.type === 'DeliveryScheduled')).toEqual([]);
    await scheduler.stop();
    await log.close();
  });
});
