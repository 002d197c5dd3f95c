// The read side following the log live: what arrives together is projected together, in one
// transaction with its position.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../log/sqlite/sqliteEventStore.ts';
import { securityEvent, toRecord } from '../log/records.ts';
import { startReadSide } from './readSide.ts';

describe('read side, live', () => {
  it('projects entries that arrive together in one transaction, each fact once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-readside-'));
    const log = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    const readSide = await startReadSide({ log, dir: path.join(dir, 'readside'), escalation: { acknowledgeWithinMs: 60_000, escalateAfterMs: 120_000, checkEveryMs: 60_000 } });
    const before = readSide.stats.transactions;
    const events = Array.from({ length: 300 }, () => toRecord(securityEvent(new Date(), { code: 'signature-invalid', reason: 'test', subject: { role: 'standesamt' } })));
    await log.append('security', events);
    await readSide.caughtUp(300, 20_000);
    expect(readSide.stats.applied).toBe(300);
    expect(readSide.store.position).toBe(300);
    expect(readSide.stats.transactions - before).toBeLessThanOrEqual(3);
    // Each entry found once by its id.
    expect(readSide.store.lookUp(events[299]!.eventId)).toMatchObject({ position: 299 });
    await readSide.stop();
    await log.close();
  });

  it('gathers entries that come one by one, a few ms apart, into one commit per gatherMs; the last one is not left behind', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-readside-'));
    const log = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    const readSide = await startReadSide({ log, dir: path.join(dir, 'readside'), escalation: { acknowledgeWithinMs: 60_000, escalateAfterMs: 120_000, checkEveryMs: 60_000 }, gatherMs: 200 });
    const event = () => toRecord(securityEvent(new Date(), { code: 'signature-invalid', reason: 'test', subject: { role: 'standesamt' } }));
    // The first is committed at once (nothing committed lately).
    await log.append('security', [event()]);
    await readSide.caughtUp(1, 20_000);
    const before = readSide.stats.transactions;
    // Ten appends, each its own commit in the log and each waited for, 5 ms apart: about 60 ms in all.
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      await log.append('security', [event()]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const appendedIn = performance.now() - t0;
    await readSide.caughtUp(11, 20_000);
    expect(readSide.stats.applied).toBe(11);
    // One commit for each 200 ms the appends took, and one more for what came after the last.
    expect(readSide.stats.transactions - before).toBeLessThanOrEqual(Math.ceil(appendedIn / 200) + 1);
    await readSide.stop();
    await log.close();
  });

  it('says so when it projects the log again from the start, and keeps what the same hub projected', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-readside-'));
    const log = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    await log.append('security', Array.from({ length: 20 }, () => toRecord(securityEvent(new Date(), { code: 'signature-invalid', reason: 'test', subject: { role: 'standesamt' } }))));
    const escalation = { acknowledgeWithinMs: 60_000, escalateAfterMs: 120_000, checkEveryMs: 60_000 };
    const open = async (trackingKey?: Buffer) => {
      const said: [string, Record<string, unknown> | undefined][] = [];
      const readSide = await startReadSide({ log, dir: path.join(dir, 'readside'), escalation, say: (event, fields) => said.push([event, fields]), ...(trackingKey ? { trackingKey } : {}) });
      await readSide.caughtUp(20, 20_000);
      await readSide.stop();
      return { said, rebuilt: readSide.stats.rebuilt, applied: readSide.stats.applied };
    };
    // Projected without the tracking codes' key, as a tool might.
    expect(await open()).toMatchObject({ said: [], rebuilt: 0, applied: 20 });
    // The hub, with the key, drops that projection and says why.
    const key = Buffer.alloc(32, 7);
    expect(await open(key)).toMatchObject({ said: [['readside.rebuild', { reason: 'the file was projected without tracking codes' }]], rebuilt: 1, applied: 20 });
    // Started again the same way: nothing projected again, nothing said.
    expect(await open(key)).toMatchObject({ said: [], rebuilt: 0, applied: 0 });
    await log.close();
  });
});
