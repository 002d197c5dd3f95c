// The scheduler's start and memory do not grow with history: it resumes at its kept position,
// reads a case it does not hold from the case's own stream, and decides the same as a
// scheduler that holds every case. Deciding again (a stale position after a crash) stores
// nothing twice; deliveries held back are decided again after a restart.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeliveryScheduled } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { EventStore, StoredEvent } from '../../hub/src/log/eventStore.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { fromRecord, toRecord } from '../../hub/src/log/records.ts';
import { corrected, registered, testRoutingTable, withdrawn } from '../../hub/src/routing/testing.ts';
import { startScheduler, type SchedulerOptions } from '../../hub/src/scheduler/scheduler.ts';
import { until } from '../support/processes.ts';

const birth = (n: number) => sampleBirthRegistration({ registerKey: { standesamtsnummer: n % 2 ? '11007007' : '04011000', registerart: 'G', jahr: 2026, eintragsnummer: String(n) } });
const streamOf = (n: number) => `birth-${String(n).padStart(32, '0')}`;

async function scheduled(log: EventStore): Promise<DeliveryScheduled[]> {
  const out: DeliveryScheduled[] = [];
  for await (const e of log.readAll()) {
    const event = fromRecord(e as StoredEvent);
    if (event?.type === 'DeliveryScheduled') out.push(event);
  }
  return out;
}

const tmpFile = (name: string) => path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-scheduler-')), name);

/** Runs a scheduler until it has decided everything in the log, then stops it. */
async function decideAll(options: SchedulerOptions) {
  const scheduler = startScheduler(options);
  const size = await options.log.size();
  await until(() => scheduler.stats.position >= size, { what: 'the scheduler caught up', timeoutMs: 20_000 });
  await scheduler.stop();
  return scheduler.stats;
}

describe('scheduler start-up and memory', () => {
  it('resumes at its kept position: a restart reads no history and routes a new birth', async () => {
    const log = createMemoryEventStore();
    const positionFile = tmpFile('scheduler.position');
    for (let n = 1; n <= 40; n++) await log.append(streamOf(n), [toRecord(registered(birth(n)))]);
    const first = await decideAll({ log, table: testRoutingTable, positionFile });
    expect(first.scheduled).toBeGreaterThanOrEqual(40);
    const size = await log.size();

    const second = startScheduler({ log, table: testRoutingTable, positionFile });
    expect(second.stats.resumedFrom).toBe(size);
    await log.append(streamOf(41), [toRecord(registered(birth(41)))]);
    await until(() => second.stats.scheduled >= 1, { what: 'the new birth routed', timeoutMs: 10_000 });
    // Only the new case was read; none of the 40 before it.
    expect(second.stats.casesRead).toBe(1);
    await second.stop();
    await log.close();
  });

  it('decides the same with a cache of one case as with every case in memory', async () => {
    // Interleaved cases, so that a small cache must read them back from their streams.
    const events: [string, ReturnType<typeof toRecord>][] = [];
    for (let n = 1; n <= 6; n++) events.push([streamOf(n), toRecord(registered(birth(n)))]);
    for (let n = 1; n <= 6; n++) {
      if (n % 3 === 0) events.push([streamOf(n), toRecord(withdrawn(birth(n)))]);
      events.push([streamOf(n), toRecord(corrected({ ...birth(n), child: { ...birth(n).child, name: { ...birth(n).child.name, firstNames: ['Korrigiert'] } } }))]);
    }
    const run = async (cachedCases: number) => {
      const log = createMemoryEventStore();
      const scheduler = startScheduler({ log, table: testRoutingTable, cachedCases });
      for (const [stream, event] of events) await log.append(stream, [event]);
      await until(async () => scheduler.stats.position >= (await log.size()), { what: 'all decided', timeoutMs: 20_000 });
      await scheduler.stop();
      const decided = (await scheduled(log)).map((d) => `${d.data.deliveryId} ${d.data.kind} ${d.data.recipient.dvdv}`).sort();
      await log.close();
      return { decided, casesRead: scheduler.stats.casesRead };
    };
    const all = await run(10_000);
    const one = await run(1);
    expect(one.casesRead).toBeGreaterThan(all.casesRead);
    expect(all.decided.some((d) => d.includes(' correction '))).toBe(true);
    expect(one.decided).toEqual(all.decided);
  });

  it('deciding again from a stale position stores nothing twice, even with fresh JWEs', async () => {
    const log = createMemoryEventStore();
    const positionFile = tmpFile('scheduler.position');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const encryptFor = () => ({ key: publicKey });
    for (let n = 1; n <= 10; n++) await log.append(streamOf(n), [toRecord(registered(birth(n)))]);
    await decideAll({ log, table: testRoutingTable, positionFile, encryptFor });
    const before = (await scheduled(log)).length;
    const size = await log.size();
    // A crash before the position was written: the next start decides from the beginning.
    writeFileSync(positionFile, '0');
    await decideAll({ log, table: testRoutingTable, positionFile, encryptFor });
    expect((await scheduled(log)).length).toBe(before);
    expect(await log.size()).toBe(size);
    await log.close();
  });

  it('decides held-back deliveries again after a restart', async () => {
    const log = createMemoryEventStore();
    const positionFile = tmpFile('scheduler.position');
    await log.append(streamOf(1), [toRecord(registered(birth(1)))]);
    const held = await decideAll({ log, table: testRoutingTable, positionFile, encryptFor: () => ({ reason: "the recipient's certificate expired" }) });
    expect(held.undeliverable).toBeGreaterThan(0);
    expect(await scheduled(log)).toEqual([]);
    for (let n = 2; n <= 5; n++) await log.append(streamOf(n), [toRecord(registered(birth(n)))]);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const renewed = await decideAll({ log, table: testRoutingTable, positionFile, encryptFor: () => ({ key: publicKey }) });
    expect(renewed.resumedFrom).toBe(0);
    const decided = await scheduled(log);
    expect(decided.filter((d) => d.data.registerKey.eintragsnummer === '1').length).toBeGreaterThan(0);
    await log.close();
  });
});
