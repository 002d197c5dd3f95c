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
});
