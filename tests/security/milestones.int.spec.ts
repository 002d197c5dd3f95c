// Milestones of a hand-off (in Bearbeitung, bewilligt, abgelehnt, ausgezahlt) come only from
// the recipient of that delivery. Another agency with a valid certificate of the exchange CA
// cannot report one for a delivery it did not receive — neither in its own name nor in the
// recipient's: refused, and nothing is logged but the security event. The recipient's own
// milestone is logged with its signed payload and projected by the read side.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, certificateVerifier, receiptSubject, type Signer } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { milestoneOf } from '../../connectors/kit/milestones.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { caCertificate, pkiInit, revocationSource } from '../../hub/src/pki/pki.ts';
import { readFact } from '../../hub/src/readside/facts.ts';
import { openProjectionStore } from '../../hub/src/readside/projectionStore.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { issueParty, tmpDir } from '../support/parties.ts';
import { until } from '../../hub/src/runner/until.ts';


describe.skipIf(!natsAvailable)('milestones: only the recipient of a delivery reports them', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let recipient: Signer;
  let other: Signer;
  let otherEgs: Signer;
  let pki: string;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    pki = tmpDir('ms-pki');
    await pkiInit(pki);
    const party = async (role: 'elterngeldstelle' | 'familienkasse', dvdv: string, name: string) => {
      const p = await issueParty(pki, { role, dvdv, name });
      return certificateSigner(p.privateKey, p.certificatePem);
    };
    recipient = await party('elterngeldstelle', 'egs:11000000', 'Elterngeldstelle Berlin');
    other = await party('familienkasse', 'fka:bund', 'Familienkasse der Bundesagentur für Arbeit');
    otherEgs = await party('elterngeldstelle', 'egs:04011000', 'Elterngeldstelle Bremen');
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  it("refuses another agency's milestone for a delivery it did not receive (security event, nothing else logged); logs the recipient's own", async () => {
    const log = createMemoryEventStore();
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: 'M1' } as never });
    await log.append('birth-11007007-G-2026-M1', [toRecord(registered(b))]);
    await until(() => scheduler.stats.scheduled >= 1, { timeoutMs: 10_000 });
    await scheduler.stop();
    const delivery = (await collect(log.readAll()))
      .filter((e) => e.type === 'DeliveryScheduled')
      .map((e) => (e.data as { data: { deliveryId: string; recipient: { dvdv: string } } }).data)
      .find((d) => d.recipient.dvdv === 'egs:11000000')!;
    expect(delivery).toBeDefined();
    const before = (await collect(log.readAll())).length;

    const verifier = certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: revocationSource(pki) });
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier });
    const send = (signer: Signer, subjectOf: string, milestone: object) => jetstream(nc).publish(receiptSubject(subjectOf), JSON.stringify({ payload: milestone, signature: signer.sign(milestone) }));

    // The Familienkasse, in its own name, for the Elterngeldstelle's delivery.
    await send(other, 'fka:bund', milestoneOf('fka:bund', { deliveryId: delivery.deliveryId, status: 'bewilligt' }));
    // Another Elterngeldstelle, in its own name.
    await send(otherEgs, 'egs:04011000', milestoneOf('egs:04011000', { deliveryId: delivery.deliveryId, status: 'abgelehnt', code: 'X1' }));
    // The Familienkasse, naming the recipient (its signature is still its own).
    await send(other, 'egs:11000000', milestoneOf('egs:11000000', { deliveryId: delivery.deliveryId, status: 'ausgezahlt' }));
    await until(async () => receipts.stats.refused >= 3 && (await collect(log.readAll())).filter((e) => e.stream === 'security').length >= 3, { timeoutMs: 10_000 });
    let entries = (await collect(log.readAll())).slice(before);
    // Nothing but security events (and the certificates they name) was logged; no milestone.
    expect(entries.filter((e) => e.stream !== 'security' && e.stream !== 'certificates')).toEqual([]);
    expect(entries.filter((e) => e.type === 'HandOffMilestone')).toEqual([]);
    const codes = entries.filter((e) => e.stream === 'security').map((e) => (e.data as { data: { code: string; subject: { dvdv?: string; verified?: boolean } } }).data);
    expect(codes.map((c) => c.code).sort()).toEqual(['not-recipient', 'not-recipient', 'producer-mismatch']);
    expect(codes.every((c) => c.subject.verified === true)).toBe(true);
    expect(codes.map((c) => c.subject.dvdv).sort()).toEqual(['egs:04011000', 'fka:bund', 'fka:bund']);

    // The recipient's own: logged once (the same report again changes nothing), its signed payload kept.
    const mine = milestoneOf('egs:11000000', { deliveryId: delivery.deliveryId, status: 'bewilligt', code: 'B-12' });
    await send(recipient, 'egs:11000000', mine);
    await send(recipient, 'egs:11000000', mine);
    await until(async () => receipts.stats.milestones + receipts.stats.repeated >= 2 && (await collect(log.readAll())).some((e) => e.type === 'HandOffMilestone'), { timeoutMs: 10_000 });
    entries = await collect(log.readAll());
    const logged = entries.filter((e) => e.type === 'HandOffMilestone');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.stream).toBe(`delivery-${delivery.deliveryId}`);
    expect((logged[0]!.data as { data: object }).data).toMatchObject({ deliveryId: delivery.deliveryId, recipient: 'egs:11000000', status: 'bewilligt', code: 'B-12', milestoneId: mine.milestoneId });
    expect((logged[0]!.metadata as { signed: { payload: object } }).signed.payload).toEqual(mine);

    // The read side projects it for the timeline and the family page.
    const store = openProjectionStore(':memory:', randomBytes(32), randomBytes(32));
    store.apply(entries.flatMap((e) => readFact(e) ?? []), entries.length);
    expect(store.milestonesOf(delivery.deliveryId).map((m) => [m.status, m.code, m.recipient])).toEqual([['bewilligt', 'B-12', 'egs:11000000']]);
    expect(store.milestonesOfCase('birth-11007007-G-2026-M1')).toHaveLength(1);
    store.close();
    await receipts.stop();
    await log.close();
  });
});
