// The scheduler asks again for deliveries it held back because the recipient had no key: each
// is scheduled once the key is there, at its causing event's revision (a withdrawal since drops
// it), a newer decision for the same case and recipient replaces it, and the kept position
// follows what is still held back.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeliveryScheduled } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { readPositionFile } from '../../hub/src/infra/positionFile.ts';
import type { EventStore } from '../../hub/src/log/eventStore.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { fromRecord, toRecord } from '../../hub/src/log/records.ts';
import { corrected, registered, testRoutingTable, withdrawn } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { until } from '../support/processes.ts';

const birth = (n: number, standesamtsnummer = '11007007') => sampleBirthRegistration({ registerKey: { standesamtsnummer, registerart: 'G', jahr: 2026, eintragsnummer: String(n) } });
const streamOf = (n: number) => `birth-${String(n).padStart(32, '0')}`;
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

async function scheduledTo(log: EventStore, dvdv: string): Promise<DeliveryScheduled[]> {
  const out: DeliveryScheduled[] = [];
  for await (const e of log.readAll()) {
    const event = fromRecord(e);
    if (event?.type === 'DeliveryScheduled' && event.data.recipient.dvdv === dvdv) out.push(event);
  }
  return out;
}

/** Recipients with a key; the others are told why not. */
const keysFor = (usable: Set<string>, broken = { now: false }) => (dvdv: string) => {
  if (broken.now) throw new Error('the CA directory cannot be read');
  return usable.has(dvdv) ? { key: publicKey } : { reason: `no certificate for ${dvdv}` };
};

describe('held-back deliveries', () => {
  it('are scheduled once the recipient has a key, and the kept position follows what is still held back', async () => {
    const log = createMemoryEventStore();
    const positionFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-held-')), 'scheduler.position');
    const usable = new Set<string>();
    const released: string[] = [];
    const scheduler = startScheduler({ log, table: testRoutingTable, positionFile, encryptFor: keysFor(usable), heldBackRetryMs: 50, onReleased: (_id, dvdv, _s, outcome) => released.push(`${dvdv} ${outcome}`) });
    await log.append(streamOf(1), [toRecord(registered(birth(1)))]);
    await log.append(streamOf(2), [toRecord(registered(birth(2, '04011000')))]);
    await until(() => scheduler.stats.heldBack === 2, { what: 'both held back', timeoutMs: 10_000 });
    expect(await scheduledTo(log, 'egs:11000000')).toEqual([]);

    usable.add('egs:11000000');
    await until(() => scheduler.stats.heldBack === 1, { what: 'the first released', timeoutMs: 10_000 });
    expect(await scheduledTo(log, 'egs:11000000')).toHaveLength(1);
    // The second birth (position 1) is still held back: a restart would decide it again.
    await until(() => readPositionFile(positionFile) === 1, { what: 'the kept position after the first release', timeoutMs: 10_000 });

    usable.add('egs:04011000');
    await until(() => scheduler.stats.heldBack === 0, { what: 'the second released', timeoutMs: 10_000 });
    expect(await scheduledTo(log, 'egs:04011000')).toHaveLength(1);
    await until(() => readPositionFile(positionFile) === scheduler.stats.position, { what: 'the kept position at the end', timeoutMs: 10_000 });
    expect(released).toEqual(['egs:11000000 scheduled', 'egs:04011000 scheduled']);
    expect(scheduler.stats).toMatchObject({ undeliverable: 2, scheduled: 2, dropped: 0 });
    await scheduler.stop();
    await log.close();
  });

  it('a withdrawal meanwhile drops it, a newer decision replaces it, a failure is reported and retried', async () => {
    const log = createMemoryEventStore();
    const usable = new Set<string>();
    const broken = { now: false };
    const failures: string[] = [];
    const released: string[] = [];
    const scheduler = startScheduler({
      log,
      table: testRoutingTable,
      encryptFor: keysFor(usable, broken),
      heldBackRetryMs: 50,
      onRetryFailed: (error) => failures.push(error.message),
      onReleased: (_id, _dvdv, stream, outcome) => released.push(`${stream === streamOf(1) ? 'withdrawn' : 'corrected'} ${outcome}`),
    });
    await log.append(streamOf(1), [toRecord(registered(birth(1)))]);
    const b = birth(2);
    await log.append(streamOf(2), [toRecord(registered(b))]);
    await until(() => scheduler.stats.heldBack === 2, { what: 'both held back', timeoutMs: 10_000 });
    // Meanwhile: the parents of the first withdraw their consent; the second is corrected, which decides its delivery anew.
    await log.append(streamOf(1), [toRecord(withdrawn(birth(1)))]);
    const correction = corrected({ ...b, child: { ...b.child, name: { ...b.child.name, firstNames: ['Korrigiert'] } } });
    await log.append(streamOf(2), [toRecord(correction)]);
    await until(() => scheduler.stats.undeliverable === 3, { what: 'the correction decided and held back', timeoutMs: 10_000 });
    expect(scheduler.stats.heldBack).toBe(2);

    broken.now = true;
    usable.add('egs:11000000');
    await until(() => failures.length > 0, { what: 'the failure reported', timeoutMs: 10_000 });
    expect(failures[0]).toBe('the CA directory cannot be read');
    expect(scheduler.stats.retryFailed).toBeGreaterThan(0);
    expect(scheduler.stats.heldBack).toBe(2);
    broken.now = false;
    await until(() => scheduler.stats.heldBack === 0, { what: 'both released', timeoutMs: 10_000 });
    const egs = await scheduledTo(log, 'egs:11000000');
    // One delivery, for the corrected registration; none for the withdrawn case.
    expect(egs.map((d) => d.causationId)).toEqual([correction.messageId]);
    expect(released.sort()).toEqual(['corrected scheduled', 'corrected superseded', 'withdrawn dropped']);
    expect(scheduler.stats.dropped).toBe(1);
    await scheduler.stop();
    await log.close();
  });
});
