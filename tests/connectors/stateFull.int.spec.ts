// A full disk under an agency connector's state (a small tmpfs mounted there, the inbox on
// another file system): the receipts of a batch cannot be committed to receipts.sqlite, so
// none is sent, and the deliveries are held: neither acknowledged nor refused for redelivery
// (no dead letter after max_deliver attempts, however long the disk stays full). The connector
// says so once, and answers each delivery once space is freed, without a restart.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receiptSubject } from '../../contracts/index.ts';
import { agencyUnderTest, allAcknowledged, egsDvdv, publishDeliveries, startEgsConsumer } from '../support/agencyUnderTest.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';
import { fillUpTo, mountTmpfs, tmpfsRefused, unmount } from '../support/tmpfs.ts';

if (tmpfsRefused) console.warn(`skipped: ${tmpfsRefused}`);

describe.skipIf(!natsAvailable || tmpfsRefused !== undefined)("an agency connector whose state's disk is full", () => {
  const nats = natsWithStreams();
  let mounted: string | undefined;
  afterAll(() => {
    if (mounted) unmount(mounted);
  });

  it('holds the deliveries while their receipts cannot be committed, and answers them once space is back', async () => {
    const { hubTrust, egsTrust } = await agencyUnderTest('statefull');
    const stateDir = path.join(tmpDir('statefull'), 'state');
    const refused = mountTmpfs(stateDir, '1m');
    if (refused) throw new Error(refused);
    mounted = stateDir;
    const inboxDir = tmpDir('statefull-inbox');
    const lines: string[] = [];
    const consumer = await startEgsConsumer(nats.nc, egsTrust, { stateDir, inboxDir }, { maxDeliver: 2, ackWaitMs: 1500, log: (line) => lines.push(line) });
    const answered = new Set<string>();
    const sub = nats.nc.subscribe(receiptSubject(egsDvdv), { callback: (_, m) => void answered.add((m.json() as { payload: { deliveryId: string } }).payload.deliveryId) });
    const filler = path.join(stateDir, 'filler');
    try {
      fillUpTo(filler, 0);
      const ids = Array.from({ length: 5 }, (_, i) => `c41d8e2a-2b6f-4f3e-9d1c-${String(i).padStart(12, '0')}`);
      await publishDeliveries(nats.nc, hubTrust.signer, ids);
      await until(() => consumer.stats.held >= ids.length, { what: 'the deliveries held', timeoutMs: 20_000 });
      // Longer than max_deliver (2) redeliveries after the ack wait (1.5 s) would take: held, not used up.
      await new Promise((r) => setTimeout(r, 6000));
      expect(answered.size).toBe(0);
      expect(consumer.stats.held).toBe(ids.length);
      expect(lines.filter((l) => l.startsWith('storage full: ')), lines.join('\n')).toHaveLength(1);
      expect(lines.some((l) => /will be redelivered/.test(l)), lines.join('\n')).toBe(false);

      rmSync(filler);
      await until(() => answered.size === ids.length, { what: 'every delivery answered once space is back', timeoutMs: 20_000 });
      await until(() => allAcknowledged(nats.nc), { what: 'every delivery acknowledged', timeoutMs: 20_000 });
      expect(consumer.stats.held).toBe(0);
      expect(lines.filter((l) => l.startsWith('storage writable again'))).toHaveLength(1);
    } finally {
      rmSync(filler, { force: true });
      sub.unsubscribe();
      await consumer.stop();
    }
  }, 90_000);
});
