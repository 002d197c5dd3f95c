// Retention: the hub erases a birth case by itself once its last hand-off is older than the
// configured period, and logs it. The clock is injected; the log and the key store are real
// files. Personal data is kept as ciphertext under the case key; the Merkle leaves commit to it.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEvent, parseVerifierKey } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { verifyLog } from '../../hub/src/audit/verifyLog.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { caseKeyFile } from '../../hub/src/log/caseKeys.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { eraseExpiredCases, startRetention } from '../../hub/src/log/retention.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { corrected, registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { until } from '../support/processes.ts';

const day = 24 * 60 * 60 * 1000;
const birth = (eintragsnummer: string, familyName: string) =>
  sampleBirthRegistration({
    registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer },
    child: { name: { firstNames: ['Adelgunde'], familyName }, sex: 'w', birth: { date: '2026-11-01', exact: false }, placeOfBirth: { city: 'Bremen' } },
  });

const t0 = Date.parse('2026-11-05T10:00:00.000Z');

/** A hub's log, case keys and scheduler on real files, with a clock the test sets. */
async function openWithClock(start: number) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-retention-'));
  let clock = start;
  const now = () => new Date(clock);
  const raw = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 }, now });
  const log = openCaseLog(raw, dataDir, { now });
  const scheduler = startScheduler({ log, table: testRoutingTable });
  return { dataDir, raw, log, scheduler, now, setClock: (t: number) => (clock = t) };
}

describe('retention with an injected clock', () => {
  it('erases a case two years after its last hand-off, logs CaseErased, and the log stays verifiable', async () => {
    const { dataDir, raw, log, scheduler, setClock, now } = await openWithClock(t0);

    const old = registered(birth('R1', 'Altenbrueck'));
    const young = registered(birth('R2', 'Jungbluthova'));
    const oldStream = log.caseStream(old.data.registerKey);
    const youngStream = log.caseStream(young.data.registerKey);
    // Stream names carry a keyed hash of the register key, never the key itself.
    expect(oldStream).toMatch(/^birth-[0-9a-f]{32}$/);
    expect(oldStream).not.toContain('R1');
    await log.append(oldStream, [toRecord(old)]);
    await until(() => scheduler.stats.scheduled >= 1, { what: 'the old case handed off', timeoutMs: 10_000 });
    setClock(t0 + 400 * day);
    await log.append(youngStream, [toRecord(young)]);
    await until(() => scheduler.stats.scheduled >= 2, { what: 'the young case handed off', timeoutMs: 10_000 });

    // Personal data is ciphertext in the store; read through the case log it is plain.
    const stored = openSqliteEventStore(logFiles(dataDir).events);
    for await (const e of stored.readStream(oldStream)) expect(JSON.stringify(e.data)).not.toContain('Altenbrueck');
    await stored.close();
    expect(readFileSync(logFiles(dataDir).events).includes(Buffer.from('Altenbrueck'))).toBe(false);
    const readBack = [];
    for await (const e of log.readStream(oldStream)) readBack.push(parseEvent(e.data));
    expect(readBack[0]).toMatchObject({ success: true, data: { data: { child: { name: { familyName: 'Altenbrueck' } } } } });

    const erased: string[] = [];
    setClock(t0 + 729 * day);
    const retention = startRetention(log, { afterLastHandoffDays: 730, intervalMs: 20, now, onErased: (stream) => erased.push(stream) });
    await new Promise((r) => setTimeout(r, 200));
    expect(erased).toEqual([]);
    setClock(t0 + 731 * day);
    await until(() => erased.length === 1, { what: 'the old case erased', timeoutMs: 10_000 });
    expect(erased).toEqual([oldStream]);
    setClock(t0 + 400 * day + 731 * day);
    await until(() => erased.length === 2, { what: 'the young case erased', timeoutMs: 10_000 });
    await retention.stop();
    await scheduler.stop();

    // The erasure is logged, without personal data; the case reads as nothing any more.
    const entries = [];
    for await (const e of log.readStream(oldStream)) entries.push(e);
    const last = entries.at(-1)!;
    expect(last.type).toBe('CaseErased');
    const erasure = parseEvent(last.data);
    expect(erasure).toMatchObject({ success: true, data: { type: 'CaseErased', data: { caseId: oldStream.slice('birth-'.length), reason: expect.stringContaining('retention') } } });
    expect(JSON.stringify(last.data)).not.toMatch(/Altenbrueck|R1|11007007\/G/);
    for (const e of entries.slice(0, -1)) expect(parseEvent(e.data).success).toBe(false);
    await log.close();

    // No key of the erased cases is left in the key store's files.
    expect(readFileSync(caseKeyFile(dataDir)).length).toBeGreaterThan(0);
    const report = await (async () => {
      const store = openSqliteEventStore(logFiles(dataDir).events);
      try {
        const vk = parseVerifierKey(raw.verifierKey);
        if (!vk.success) throw vk.error;
        return await verifyLog(store, vk.data, { treeFile: logFiles(dataDir).tree });
      } finally {
        await store.close();
      }
    })();
    expect(report).toMatchObject({ ok: true });
  });

  it('a hand-off time the key store lost (a crash before it was written) does not make a case go early', async () => {
    const { dataDir, log, scheduler, setClock, now } = await openWithClock(t0);
    const registration = birth('R3', 'Spaetkorrigiert');
    const stream = log.caseStream(registration.registerKey);
    await log.append(stream, [toRecord(registered(registration))]);
    await until(() => scheduler.stats.scheduled >= 1, { what: 'the case handed off', timeoutMs: 10_000 });
    // 700 days later a correction is handed off again ...
    setClock(t0 + 700 * day);
    const scheduledBefore = scheduler.stats.scheduled;
    await log.append(stream, [toRecord(corrected({ ...registration, child: { ...registration.child, name: { ...registration.child.name, firstNames: ['Adelheid'] } } }))]);
    await until(() => scheduler.stats.scheduled > scheduledBefore, { what: 'the correction handed off', timeoutMs: 10_000 });
    await scheduler.stop();
    // ... but the key store still says t0, as a crash before its write would leave it.
    log.keys.flushHandoffs();
    const db = new Database(caseKeyFile(dataDir));
    db.prepare('UPDATE case_keys SET last_handoff_at = ?').run(new Date(t0).toISOString());
    db.close();

    setClock(t0 + 731 * day);
    expect(await eraseExpiredCases(log, { afterLastHandoffDays: 730, now })).toEqual([]);
    setClock(t0 + 700 * day + 731 * day);
    expect(await eraseExpiredCases(log, { afterLastHandoffDays: 730, now })).toEqual([stream]);
    await log.close();
  });
});
