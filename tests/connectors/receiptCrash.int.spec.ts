// An agency connector killed with SIGKILL mid-burst, again and again (a child process running
// startAgencyConsumer against a real nats-server): every receipt that leaves it answers an inbox
// file that is there and a receipt committed in its receipts.sqlite, and a delivery answered
// more than once (a redelivery after a kill) is answered with the same receipt each time, the
// same receivedAt included. In the end every delivery is answered and acknowledged.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { receiptSubject } from '../../contracts/index.ts';
import { receiptsFileOf } from '../../connectors/kit/receiptStore.ts';
import { agencyUnderTest, allAcknowledged, egsDvdv, publishDeliveries } from '../support/agencyUnderTest.ts';
import { repoRoot } from '../support/fixtures.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';

describe.skipIf(!natsAvailable)('an agency connector killed with SIGKILL mid-burst', () => {
  const nats = natsWithStreams();

  it('sends no receipt before it is committed, and the same receipt again after a kill', async () => {
    const { ca, egsDir, hubTrust } = await agencyUnderTest('crash');
    const stateDir = tmpDir('crash-state');
    const inboxDir = tmpDir('crash-inbox');
    const ids = Array.from({ length: 400 }, (_, i) => `9a4f2b18-6c3d-4e5f-8a7b-${String(i).padStart(12, '0')}`);
    await publishDeliveries(nats.nc, hubTrust.signer, ids);

    // The hub's side: every receipt sent (duplicates too), and what was on disk when it came.
    let db: Database.Database | undefined;
    const committed = (id: string): boolean => {
      db ??= new Database(receiptsFileOf(stateDir), { readonly: true, fileMustExist: true });
      return db.prepare('SELECT 1 FROM receipts WHERE delivery_id = ?').get(id) !== undefined;
    };
    const sent = new Map<string, string[]>();
    const early: string[] = [];
    /** The connector to kill the moment this many deliveries are answered: in the middle of a batch's receipts. */
    let victim: { child: ChildProcess; at: number } | undefined;
    const sub = nats.nc.subscribe(receiptSubject(egsDvdv), {
      callback: (_, m) => {
        const payload = (m.json() as { payload: { deliveryId: string } }).payload;
        if (!existsSync(path.join(inboxDir, `${payload.deliveryId}.json`)) || !committed(payload.deliveryId)) early.push(payload.deliveryId);
        sent.set(payload.deliveryId, [...(sent.get(payload.deliveryId) ?? []), JSON.stringify(payload)]);
        if (victim && sent.size >= victim.at) {
          victim.child.kill('SIGKILL');
          victim = undefined;
        }
      },
    });
    const start = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin/run-ts.js'), path.join(repoRoot, 'tests/support/agencyConsumerChild.ts'), nats.server.url, ca, egsDir, stateDir, inboxDir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the connector ended before it was ready (exit ${code})`)));
      });
      return child;
    };
    const stopped = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    try {
      // Killed three times, each time once 50 more deliveries were answered.
      for (let kill = 1; kill <= 3; kill++) {
        const child = await start();
        victim = { child, at: sent.size + 50 };
        await until(() => child.signalCode === 'SIGKILL', { what: `kill ${kill} after more receipts`, timeoutMs: 60_000 });
        await stopped(child);
      }
      const child = await start();
      await until(() => sent.size >= ids.length, { what: 'every delivery answered', timeoutMs: 120_000 });
      await until(() => allAcknowledged(nats.nc), { what: 'every delivery acknowledged', timeoutMs: 60_000 });
      child.kill('SIGTERM');
      await stopped(child);

      expect([...sent.keys()].sort()).toEqual([...ids].sort());
      expect(early).toEqual([]);
      // Answered more than once after the kills: always the same receipt.
      const differing = [...sent].filter(([, receipts]) => new Set(receipts).size > 1);
      expect(differing).toEqual([]);
      expect([...sent.values()].some((receipts) => receipts.length > 1), 'some delivery was answered again after a kill').toBe(true);
    } finally {
      sub.unsubscribe();
      db?.close();
    }
  }, 300_000);
});
