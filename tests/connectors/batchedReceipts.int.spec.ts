// An agency connector answers what it has ready together: the inbox files and receipts of a
// batch of deliveries share one fsync per directory, and no receipt leaves before its inbox
// file is there (real CA files, a party trust from connectors/kit, a real nats-server).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { deliverySubject, receiptSubject } from '../../contracts/index.ts';
import { startAgencyConsumer } from '../../connectors/kit/agencyConsumer.ts';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { caCertFileOf, crlFileOf, pkiInit } from '../../hub/src/pki/pki.ts';
import { elterngeldDelivery } from '../support/deliveries.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { issueParty, tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';

describe.skipIf(!natsAvailable)('an agency connector under a burst of deliveries', () => {
  const nats = natsWithStreams();

  it('answers each delivery once, in batches, and sends no receipt before its inbox file exists', async () => {
    const ca = tmpDir('batch-ca');
    await pkiInit(ca);
    const hub = await issueParty(ca, { role: 'hub', dvdv: 'hub:elfe-hub', name: 'elfe-hub' });
    const egs = await issueParty(ca, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    const trustOf = (dir: string) => certificateTrust({ dir, caCertFile: caCertFileOf(ca), crlFile: crlFileOf(ca) });
    const [hubTrust, egsTrust] = [trustOf(hub.dir), trustOf(egs.dir)];
    const inboxDir = tmpDir('batch-inbox');
    const ids = Array.from({ length: 40 }, (_, i) => `7f1e8c36-5c55-4a8e-9d0e-${String(i).padStart(12, '0')}`);
    const js = jetstream(nats.nc);
    for (const deliveryId of ids) {
      const delivery = elterngeldDelivery(deliveryId, { dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
      await js.publish(deliverySubject('egs:11000000'), JSON.stringify({ payload: delivery, signature: hubTrust.signer.sign(delivery) }), { msgID: deliveryId });
    }
    // The hub's side: every receipt, and whether its inbox file was there when it arrived.
    const receipts: { id: string; fileThere: boolean }[] = [];
    const sub = nats.nc.subscribe(receiptSubject('egs:11000000'));
    void (async () => {
      for await (const m of sub) {
        const id = (m.json() as { payload: { deliveryId: string } }).payload.deliveryId;
        receipts.push({ id, fileThere: existsSync(path.join(inboxDir, `${id}.json`)) });
      }
    })();
    const consumer = await startAgencyConsumer({
      nc: nats.nc,
      dvdv: 'egs:11000000',
      signer: egsTrust.signer,
      hubVerifier: egsTrust.verifier,
      stateDir: tmpDir('batch-state'),
      handle: async (d, inbox) => {
        inbox.write(path.join(inboxDir, `${d.deliveryId}.json`), JSON.stringify({ deliveryId: d.deliveryId }));
        return { ok: true };
      },
    });
    try {
      await until(() => receipts.length >= ids.length, { what: 'every delivery answered', timeoutMs: 30_000 });
      expect(receipts.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(receipts.every((r) => r.fileThere)).toBe(true);
      expect(consumer.stats.handled).toBe(ids.length);
      expect(consumer.stats.refused).toBe(0);
      // Answered in batches: far fewer directory syncs than deliveries.
      expect(consumer.stats.answered).toBeLessThanOrEqual(ids.length / 4);
    } finally {
      await consumer.stop();
      sub.unsubscribe();
    }
  }, 60_000);
});
