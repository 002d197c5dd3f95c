// What a batch of deliveries costs an agency connector in fsync calls made from JavaScript:
// one per inbox file and one for the inbox directory; the batch's receipts are kept in the
// connector's SQLite database (`<stateDir>/receipts.sqlite`), one commit for the batch (SQLite's
// own fsync of its WAL, not counted here), instead of one fsync per receipt file and one more
// for the receipts directory. Counted by wrapping node:fs's fsyncSync and fdatasyncSync.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { receiptSubject } from '../../contracts/index.ts';
import { agencyUnderTest, egsDvdv, publishDeliveries, startEgsConsumer } from '../support/agencyUnderTest.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';
import { receiptIdsOf } from '../support/receipts.ts';

const original = { fsyncSync: fs.fsyncSync, fdatasyncSync: fs.fdatasyncSync };

/** Counts the fsync calls made through node:fs (named imports included) until `restore`. */
function countFsyncs(): { readonly count: () => number } {
  let n = 0;
  fs.fsyncSync = (fd) => {
    n++;
    original.fsyncSync(fd);
  };
  fs.fdatasyncSync = (fd) => {
    n++;
    original.fdatasyncSync(fd);
  };
  syncBuiltinESMExports();
  return { count: () => n };
}

function restore(): void {
  fs.fsyncSync = original.fsyncSync;
  fs.fdatasyncSync = original.fdatasyncSync;
  syncBuiltinESMExports();
}

describe.skipIf(!natsAvailable)('the fsyncs of a batch of deliveries', () => {
  const nats = natsWithStreams();
  afterEach(restore);

  it('one per inbox file and one per batch for the inbox directory; the receipts in one database', async () => {
    const { hubTrust, egsTrust } = await agencyUnderTest('fsync');
    const inboxDir = tmpDir('fsync-inbox');
    const stateDir = tmpDir('fsync-state');
    const ids = Array.from({ length: 40 }, (_, i) => `3b0c6a52-0f4e-4d7e-8a51-${String(i).padStart(12, '0')}`);
    await publishDeliveries(nats.nc, hubTrust.signer, ids);
    const answered = new Set<string>();
    const sub = nats.nc.subscribe(receiptSubject(egsDvdv));
    void (async () => {
      for await (const m of sub) answered.add((m.json() as { payload: { deliveryId: string } }).payload.deliveryId);
    })();
    const fsyncs = countFsyncs();
    const consumer = await startEgsConsumer(nats.nc, egsTrust, { stateDir, inboxDir });
    try {
      await until(() => answered.size >= ids.length, { what: 'every delivery answered', timeoutMs: 30_000 });
      await consumer.stop();
      expect(consumer.stats.handled).toBe(ids.length);
      // Per batch: its inbox files, then the inbox directory once; nothing per receipt. And once
      // at the start, the state directory (the new database file's name made durable).
      expect(fsyncs.count()).toBe(consumer.stats.handled + consumer.stats.answered + 1);
    } finally {
      await consumer.stop();
      sub.unsubscribe();
    }
    restore();
    expect(receiptIdsOf(stateDir)).toEqual([...ids].sort());
  }, 60_000);
});
