// The case log's reads: every follower is handed the same opened entry (each entry is decrypted
// and parsed once), never once its case is erased.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCaseLog, isSealed } from './caseLog.ts';
import { collect } from './conformance/eventStoreConformance.ts';
import type { StoredEvent, Subscription } from './eventStore.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';

const first = async (subscription: Subscription): Promise<StoredEvent> => {
  const next = await subscription[Symbol.asyncIterator]().next();
  return next.value as StoredEvent;
};

describe('case log reads', () => {
  it('hands every follower the same opened entry, and ciphertext once the case is erased', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-caselog-'));
    const log = openCaseLog(openSqliteEventStore(path.join(dir, 'events.sqlite')), dir);
    const stream = log.caseStream('11007007-G-1-2026');
    await log.append(stream, [{ eventId: 'e1', type: 'Noted', data: { name: 'Hildegunde' }, metadata: { signed: { by: 'sta' } } }]);

    const [a, b] = [log.subscribe(0), log.subscribe(0)];
    const [seenByA, seenByB] = [await first(a), await first(b)];
    expect(seenByA.data).toEqual({ name: 'Hildegunde' });
    expect(seenByA.metadata).toEqual({ signed: { by: 'sta' } });
    // Opened once for both.
    expect(seenByB).toBe(seenByA);
    await Promise.all([a.close(), b.close()]);

    await log.erase(stream, 'test');
    const [after] = await collect(log.readStream(stream, { maxCount: 1 }));
    expect(isSealed(after!.data)).toBe(true);
    expect(JSON.stringify(after)).not.toContain('Hildegunde');
    await log.close();
  });

  it('reads a case once from the store, then only what was appended since, however it was appended', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-caselog-'));
    const file = path.join(dir, 'events.sqlite');
    const inner = openSqliteEventStore(file);
    const asked: (number | undefined)[] = [];
    const readStream = inner.readStream.bind(inner);
    inner.readStream = (stream, options) => {
      asked.push(options?.fromRevision);
      return readStream(stream, options);
    };
    const log = openCaseLog(inner, dir);
    const stream = log.caseStream('11007007-G-2-2026');
    const note = (id: string, name: string) => ({ eventId: id, type: 'Noted', data: { name }, metadata: {} });
    // A case not begun yet: asked once; found empty, it is known to be so until an append.
    expect(await collect(log.readStream(log.caseStream('11007007-G-20-2026')))).toEqual([]);
    expect(await collect(log.readStream(log.caseStream('11007007-G-20-2026')))).toEqual([]);
    expect(asked).toEqual([0]);
    asked.length = 0;
    await log.append(stream, [note('c1', 'Anna'), note('c2', 'Berta')]);
    expect((await collect(log.readStream(stream))).map((e) => e.data)).toEqual([{ name: 'Anna' }, { name: 'Berta' }]);
    await log.append(stream, [note('c3', 'Clara')]);
    expect((await collect(log.readStream(stream))).map((e) => e.data)).toEqual([{ name: 'Anna' }, { name: 'Berta' }, { name: 'Clara' }]);
    // The store was asked for the whole stream once, then only from the next revision on.
    expect(asked).toEqual([0, 2]);
    expect((await collect(log.readStream(stream, { fromRevision: 1, maxCount: 1 }))).map((e) => e.data)).toEqual([{ name: 'Berta' }]);
    // Nothing appended since: the store knows the stream ends where the cache does, and is not asked.
    expect((await collect(log.readStream(stream))).length).toBe(3);
    expect(asked).toEqual([0, 2]);

    // An entry that reached the store another way (not through this case log) is read too.
    await inner.append(stream, [note('c4', 'Dora')]);
    expect((await collect(log.readStream(stream))).map((e) => e.data)).toEqual([{ name: 'Anna' }, { name: 'Berta' }, { name: 'Clara' }, { name: 'Dora' }]);
    expect(asked).toEqual([0, 2, 3]);

    // Erased: what was read before comes back as ciphertext, not from memory in clear.
    await log.erase(stream, 'test');
    const after = await collect(log.readStream(stream));
    expect(after.filter((e) => e.type === 'Noted').slice(0, 3).every((e) => isSealed(e.data))).toBe(true);
    expect(JSON.stringify(after)).not.toMatch(/Anna|Berta|Clara/);
    await log.close();
  });

  it('seals a delivery stream with its case key, asking the store for the case only when the delivery was scheduled another way', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-caselog-'));
    const inner = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    const looked: string[] = [];
    const getByEventId = inner.getByEventId.bind(inner);
    inner.getByEventId = (id) => {
      looked.push(id);
      return getByEventId(id);
    };
    const log = openCaseLog(inner, dir);
    const stream = log.caseStream('11007007-G-3-2026');
    const scheduled = (id: string) => ({ eventId: id, type: 'DeliveryScheduled', data: { deliveryId: id, name: 'Emma' }, metadata: {} });
    const receipt = (id: string) => ({ eventId: `r-${id}`, type: 'DeliveryAcknowledged', data: { deliveryId: id, name: 'Emma' }, metadata: {} });
    await log.append(stream, [scheduled('d1')]);
    await log.append('delivery-d1', [receipt('d1')]);
    // Scheduled through this case log: its case is known.
    expect(looked).toEqual([]);
    // Its case read since: the delivery is the entry the readers hold, not asked of the store.
    const [held] = (await collect(log.readStream(stream))).filter((e) => e.eventId === 'd1');
    expect(await log.getByEventId('d1')).toBe(held);
    expect(looked).toEqual([]);
    // Scheduled by another writer of the store: looked up once, then known.
    await inner.append(stream, [{ eventId: 'd2', type: 'DeliveryScheduled', data: { sealed: 'elsewhere' }, metadata: {} }]);
    await log.append('delivery-d2', [receipt('d2')]);
    await log.append('delivery-d2', [{ ...receipt('d2'), eventId: 'r2-d2' }]);
    expect(looked).toEqual(['d2']);
    for (const id of ['d1', 'd2']) {
      const [stored] = await collect(inner.readStream(`delivery-${id}`));
      expect(isSealed(stored!.data)).toBe(true);
      expect(JSON.stringify(stored)).not.toContain('Emma');
      expect((await collect(log.readStream(`delivery-${id}`)))[0]!.data).toEqual({ deliveryId: id, name: 'Emma' });
    }
    // Erased: the delivery's stream no longer opens either.
    await log.erase(stream, 'test');
    expect(isSealed((await collect(log.readStream('delivery-d1')))[0]!.data)).toBe(true);
    await log.close();
  });

  it('knows the stream of a delivery it scheduled as a new entry is empty, until something is appended to it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-caselog-'));
    const inner = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    const asked: string[] = [];
    const readStream = inner.readStream.bind(inner);
    inner.readStream = (stream, options) => {
      asked.push(stream);
      return readStream(stream, options);
    };
    const log = openCaseLog(inner, dir);
    const stream = log.caseStream('11007007-G-4-2026');
    const scheduled = (id: string) => ({ eventId: id, type: 'DeliveryScheduled', data: { deliveryId: id }, metadata: {} });
    const receipt = (id: string, n = 1) => ({ eventId: `r${n}-${id}`, type: 'DeliveryAcknowledged', data: { deliveryId: id }, metadata: {} });
    await log.append(stream, [scheduled('d1'), scheduled('d2')]);
    // Its first receipt finds the stream empty without asking the store.
    expect(await collect(log.readStream('delivery-d1'))).toEqual([]);
    expect(asked).toEqual([]);
    // Appended to through the case log: read from the store again, the receipt there.
    await log.append('delivery-d1', [receipt('d1')]);
    expect((await collect(log.readStream('delivery-d1'))).map((e) => e.eventId)).toEqual(['r1-d1']);
    // Appended to past the case log (the store's own append): the store knows the stream's head.
    await inner.append('delivery-d2', [receipt('d2')]);
    expect((await collect(log.readStream('delivery-d2'))).map((e) => e.eventId)).toEqual(['r1-d2']);
    // A delivery the store already held, scheduled again after a restart (an idempotent append):
    // its stream is asked for, and its receipt found.
    await log.append(stream, [scheduled('d3')]);
    await log.append('delivery-d3', [receipt('d3')]);
    await log.close();
    const reopened = openCaseLog(openSqliteEventStore(path.join(dir, 'events.sqlite')), dir);
    await reopened.append(stream, [scheduled('d3')]);
    expect((await collect(reopened.readStream('delivery-d3'))).map((e) => e.eventId)).toEqual(['r1-d3']);
    await reopened.close();
  });
});
