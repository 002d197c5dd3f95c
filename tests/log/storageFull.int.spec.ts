// The log's parts on a full disk (a small tmpfs): a refused write is a StorageFullError, leaves
// nothing half-done (the Merkle tree keeps its size, so the same leaves go in again), what was
// acknowledged stays, and the next write after space is freed succeeds on the same open store.
// The scheduler, whose decisions cannot be written meanwhile, waits and decides again instead
// of dying (which stopped routing and, unhandled, the hub).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isStorageFull, StorageFullError } from '../../connectors/kit/storageFull.ts';
import type { EventStore, NewEvent } from '../../hub/src/log/eventStore.ts';
import { CaseKeyStore } from '../../hub/src/log/caseKeys.ts';
import { TreeStore } from '../../hub/src/log/merkle/treeStore.ts';
import { logStorage } from '../../hub/src/log/storageHealth.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { fromRecord, toRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { until } from '../support/processes.ts';
import { fillUpTo, mountTmpfs, tmpfsRefused, unmount } from '../support/tmpfs.ts';

if (tmpfsRefused) console.warn(`skipped: ${tmpfsRefused}`);

const mounts: string[] = [];
afterEach(() => {
  for (const dir of mounts.splice(0)) unmount(dir);
});

/** A fresh tmpfs of `size`. */
function smallDisk(size: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-full-'));
  const refused = mountTmpfs(dir, size);
  if (refused) throw new Error(refused);
  mounts.push(dir);
  return dir;
}

describe.skipIf(tmpfsRefused !== undefined)('the log on a full disk', () => {
  it('the Merkle tree: a refused append leaves it as it was, and the same leaves go in once space is back', () => {
    const dir = smallDisk('2m');
    const tree = new TreeStore(path.join(dir, 'tree.sqlite'));
    const reference = new TreeStore(':memory:');
    const filler = path.join(dir, 'filler');
    fillUpTo(filler, 96 * 1024);
    const all: Buffer[] = [];
    let refused: unknown;
    for (let i = 0; i < 10_000 && !refused; i++) {
      const batch = Array.from({ length: 50 }, () => randomBytes(32));
      try {
        tree.append(batch);
        all.push(...batch);
      } catch (error) {
        refused = error;
        expect(tree.size, 'the size a refused append left').toBe(all.length);
        rmSync(filler);
        tree.append(batch);
        all.push(...batch);
      }
    }
    expect(refused).toBeInstanceOf(StorageFullError);
    const more = Array.from({ length: 7 }, () => randomBytes(32));
    tree.append(more);
    all.push(...more);
    reference.append(all);
    expect(tree.size).toBe(all.length);
    expect(Buffer.from(tree.root()).equals(Buffer.from(reference.root()))).toBe(true);
    tree.close();
    reference.close();
  });

  it('the event store: a refused append is a StorageFullError, every acknowledged one stays, the next one after space is freed succeeds', async () => {
    const dir = smallDisk('4m');
    const store = openSqliteEventStore(path.join(dir, 'log.sqlite'));
    const filler = path.join(dir, 'filler');
    fillUpTo(filler, 128 * 1024);
    const acknowledged: string[] = [];
    const event = (i: number): NewEvent => ({ eventId: `e-${i}`, type: 'Filler', data: { i, text: 'x'.repeat(2000) }, metadata: {} });
    let refused: unknown;
    let i = 0;
    for (; i < 10_000 && !refused; i++) {
      try {
        await store.append(`s-${i % 7}`, [event(i)]);
        acknowledged.push(`e-${i}`);
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(StorageFullError);
    await expect(store.append('s-x', [event(i)])).rejects.toBeInstanceOf(StorageFullError);
    rmSync(filler);
    const after = await store.append('s-x', [event(i + 1)]);
    expect(after.positions[0]).toBe(acknowledged.length);
    const ids: string[] = [];
    for await (const e of store.readAll()) ids.push(e.eventId);
    expect(ids).toEqual([...acknowledged, `e-${i + 1}`]);
    await store.close();
  });
});

describe.skipIf(tmpfsRefused !== undefined)('the case keys on a full disk', () => {
  it('keeps hand-off times it cannot write and writes them once space is back, never throwing from its timer; close still closes', async () => {
    const dir = smallDisk('2m');
    const file = path.join(dir, 'keys', 'cases.sqlite');
    const keys = new CaseKeyStore(file);
    const ids = Array.from({ length: 3000 }, (_, i) => keys.caseIdOf(`11007007-G-2026-${i}`));
    await Promise.all(ids.map((id) => keys.keyFor(id, new Date('2026-11-01T00:00:00Z'))));
    const filler = path.join(dir, 'filler');
    fillUpTo(filler, 0);
    const refusedBefore = logStorage.refused;
    for (const id of ids) keys.handedOff(id, new Date('2026-11-20T00:00:00Z'));
    // Its timer flushes a second later: refused, kept, tried again (an exception there ended the hub).
    await until(() => logStorage.refused > refusedBefore, { what: 'the hand-off times refused', timeoutMs: 10_000 });
    rmSync(filler);
    await until(() => keys.idleSince(new Date('2026-11-10T00:00:00Z')).length === 0, { what: 'the hand-off times written once space is back', timeoutMs: 10_000 });
    await keys.close();
    const again = new CaseKeyStore(file);
    expect(again.idleSince(new Date('2026-11-10T00:00:00Z'))).toEqual([]);
    expect(again.idleSince(new Date('2026-11-21T00:00:00Z'))).toHaveLength(ids.length);
    await again.close();
  });
});

describe('the scheduler while its decisions cannot be written', () => {
  it('waits and decides again once space is back, without dying or skipping the event', async () => {
    const inner = createMemoryEventStore();
    let full = true;
    let refused = 0;
    const log = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'append')
          return (stream: string, events: readonly NewEvent[], expected?: Parameters<EventStore['append']>[2]) => {
            if (full && events.some((e) => e.type === 'DeliveryScheduled')) {
              refused++;
              return Promise.reject(new StorageFullError('log.sqlite', { cause: Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) }));
            }
            return target.append(stream, events, expected);
          };
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;
    const birth = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '77' } });
    await log.append(`birth-${'7'.repeat(32)}`, [toRecord(registered(birth))]);
    const positionFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-scheduler-')), 'scheduler.position');
    const scheduler = startScheduler({ log, table: testRoutingTable, positionFile });
    await until(() => refused >= 2, { what: 'the decisions refused twice', timeoutMs: 10_000 });
    expect(scheduler.stats.scheduled).toBe(0);
    expect(scheduler.stats.position).toBe(0);
    full = false;
    await until(() => scheduler.stats.scheduled >= 1, { what: 'the decisions written once space is back', timeoutMs: 10_000 });
    const types: string[] = [];
    for await (const e of inner.readAll()) types.push(fromRecord(e)?.type ?? e.type);
    expect(types.filter((t) => t === 'DeliveryScheduled').length).toBe(scheduler.stats.scheduled);
    await until(() => scheduler.stats.position === 1 + scheduler.stats.scheduled, { what: 'the position past the decided event', timeoutMs: 10_000 });
    await scheduler.stop();
  });

  it('refuses a new case key with a full-disk error from its writer thread, commits it once space is back, and keeps what was committed', async () => {
    const dir = smallDisk('1m');
    const file = path.join(dir, 'keys', 'cases.sqlite');
    const keys = new CaseKeyStore(file);
    const at = new Date('2026-11-01T00:00:00Z');
    const before = keys.caseIdOf('11007007-G-2026-before');
    const kept = await keys.keyFor(before, at);
    const filler = path.join(dir, 'filler');
    fillUpTo(filler, 0);
    // Many keys at once, so the group's pages need space the disk no longer has.
    const ids = Array.from({ length: 2000 }, (_, i) => keys.caseIdOf(`11007007-G-2026-full-${i}`));
    const refused = await Promise.allSettled(ids.map((id) => keys.keyFor(id, at)));
    const reasons = refused.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((e) => isStorageFull(e))).toBe(true);
    rmSync(filler);
    const again = await keys.keyFor(ids[0]!, at);
    expect(again).toHaveLength(32);
    await keys.close();
    const reopened = new CaseKeyStore(file);
    expect(reopened.keyOf(before)).toEqual(kept);
    expect(reopened.keyOf(ids[0]!)).toEqual(again);
    await reopened.close();
  });
});
