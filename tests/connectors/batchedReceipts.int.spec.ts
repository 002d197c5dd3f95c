// An agency connector answers what it has ready together: the inbox files of a batch of
// deliveries share one fsync per directory and their receipts one commit, and no receipt leaves
// before its inbox file is there (real CA files, a party trust from connectors/kit, a real
// nats-server).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiptSubject } from '../../contracts/index.ts';
import { agencyUnderTest, egsDvdv, publishDeliveries, startEgsConsumer } from '../support/agencyUnderTest.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';

describe.skipIf(!natsAvailable)('an agency connector under a burst of deliveries', () => {
  const nats = natsWithStreams();

  it('answers each delivery once, in batches, and sends no receipt before its inbox file exists', async () => {
    const { hubTrust, egsTrust } = await agencyUnderTest('batch');
    const inboxDir = tmpDir('batch-inbox');
    const ids = Array.from({ length: 40 }, (_, i) => `7f1e8c36-5c55-4a8e-9d0e-${String(i).padStart(12, '0')}`);
    await publishDeliveries(nats.nc, hubTrust.signer, ids);
    // The hub's side: every receipt, and whether its inbox file was there when it arrived.
    const receipts: { id: string; fileThere: boolean }[] = [];
    const sub = nats.nc.subscribe(receiptSubject(egsDvdv));
    void (async () => {
      for await (const m of sub) {
        const id = (m.json() as { payload: { deliveryId: string } }).payload.deliveryId;
        receipts.push({ id, fileThere: existsSync(path.join(inboxDir, `${id}.json`)) });
      }
    })();
    const consumer = await startEgsConsumer(nats.nc, egsTrust, { stateDir: tmpDir('batch-state'), inboxDir });
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
