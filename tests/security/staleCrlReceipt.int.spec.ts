// Failing closed must not lose a receipt: while the hub holds no current CRL it can check no
// agency's signature, so a receipt is neither taken nor refused as a security event (before:
// refused and acknowledged, so the delivery's final answer was lost for good); once the CRL is
// good again, the same receipt is judged and logged. A real nats-server and the CA's files.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { certificateSigner, certificateVerifier, receiptStream, receiptSubject, receivedHashOf } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { caCertificate, pkiInit, revocationSource } from '../../hub/src/pki/pki.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { issueParty } from '../support/parties.ts';
import { until } from '../support/processes.ts';

describe.skipIf(!natsAvailable)('the hub without a current CRL', () => {
  const nats = natsWithStreams();

  it('neither takes nor refuses a receipt while no CRL is good, and logs it once one is', async () => {
    const pki = mkdtempSync(path.join(os.tmpdir(), 'elfe-stale-crl-receipt-'));
    await pkiInit(pki);
    const egs = await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    let unknown: string | undefined = 'the CRL was due to be replaced a year ago';
    const verifier = certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: revocationSource(pki), revocationUnknown: () => unknown });
    const log = createMemoryEventStore();
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: 'C1' } as never });
    await log.append('birth-11007007-G-2026-C1', [toRecord(registered(b))]);
    await until(() => scheduler.stats.scheduled === 1, { what: 'the delivery scheduled', timeoutMs: 10_000 });
    await scheduler.stop();
    const events = async () => collect(log.readAll());
    const data = ((await events()).find((e) => e.type === 'DeliveryScheduled')!.data as { data: { deliveryId: string; payloadHash: string } }).data;
    const receipts = await startReceiptProcessor({ nc: nats.nc, js: jetstream(nats.nc), jsm: await jetstreamManager(nats.nc), log, verifier });
    try {
      const signer = certificateSigner(egs.privateKey, egs.certificatePem);
      const receipt = { deliveryId: data.deliveryId, recipient: 'egs:11000000', status: 'acknowledged', receivedHash: receivedHashOf(data)!, receivedAt: new Date().toISOString() };
      await jetstream(nats.nc).publish(receiptSubject('egs:11000000'), JSON.stringify({ payload: receipt, signature: signer.sign(receipt) }));
      // Judged once (and put back): nothing logged, no security event, not refused.
      const info = async () => (await jetstreamManager(nats.nc)).consumers.info(receiptStream, 'hub-receipts');
      await until(async () => receipts.stats.refused > 0 || (await info()).num_redelivered > 0 || (await info()).num_ack_pending > 0, { what: 'the receipt taken up once', timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 500));
      expect(receipts.stats.refused).toBe(0);
      expect((await events()).filter((e) => e.stream === 'security' || e.type === 'DeliveryAcknowledged')).toEqual([]);
      // A current CRL again: the receipt comes again and is logged.
      unknown = undefined;
      await until(async () => (await events()).some((e) => e.type === 'DeliveryAcknowledged'), { what: 'the receipt logged once the CRL is good', timeoutMs: 30_000 });
      expect(receipts.stats.refused).toBe(0);
    } finally {
      await receipts.stop();
      await log.close();
    }
  }, 60_000);
});
