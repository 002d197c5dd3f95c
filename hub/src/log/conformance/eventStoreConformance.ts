// The conformance suite of the store port, written once and run against every backend.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type StoredEvent } from '../eventStore.ts';

export interface ConformanceTarget {
  /** A fresh, empty store. */
  open(): Promise<EventStore>;
  /** Closes `store` and opens the same data again (durability checks); omitted for volatile stores. */
  reopen?(store: EventStore): Promise<EventStore>;
}

export const newEvent = (type = 'TestEvent', data: NewEvent['data'] = { n: 1 }): NewEvent => ({
  eventId: randomUUID(),
  type,
  data,
  metadata: { source: 'conformance' },
});

export async function collect<T>(iterable: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function describeEventStoreConformance(name: string, target: ConformanceTarget | undefined, skipReason?: string): void {
  describe.skipIf(!target)(`event store conformance: ${name}`, () => {
    if (!target && skipReason) console.warn(`${name} conformance skipped: ${skipReason}`);
    let store: EventStore;
    // A shared server (KurrentDB) already holds events: streams get a fresh prefix and
    // positions are compared relative to the size found at open.
    let base = 0;
    let prefix = '';
    const sn = (name: string) => `${prefix}${name}`;
    const rel = (positions: readonly number[]) => positions.map((p) => p - base);
    const open = async () => {
      store = await target!.open();
      base = await store.size();
      prefix = `t${randomUUID().slice(0, 8)}-`;
      return store;
    };
    afterEach(async () => {
      await store?.close();
    });

    it('appends and reads a stream in order, with revisions and positions', async () => {
      await open();
      const events = [newEvent('A', { i: 0 }), newEvent('B', { i: 1 }), newEvent('C', { i: 2, nested: { ü: 'ß', list: [1, null, true] } })];
      const result = await store.append(sn('case-1'), events, 'no-stream');
      expect({ ...result, positions: rel(result.positions) }).toEqual({ nextExpectedRevision: 2, positions: [0, 1, 2] });
      const read = await collect(store.readStream(sn('case-1')));
      expect(read.map((e) => [e.eventId, e.type, e.data, e.metadata, e.stream, e.streamRevision, e.position])).toEqual(
        events.map((e, i) => [e.eventId, e.type, e.data, e.metadata, sn('case-1'), i, i + base]),
      );
      expect(read.every((e) => !Number.isNaN(Date.parse(e.recordedAt)))).toBe(true);
      expect((await store.size()) - base).toBe(3);
    });

    it('keeps one gap-free global order across streams', async () => {
      await open();
      await store.append(sn('a'), [newEvent()]);
      await store.append(sn('b'), [newEvent(), newEvent()]);
      await store.append(sn('a'), [newEvent()]);
      const all = await collect(store.readAll({ fromPosition: base }));
      expect(rel(all.map((e) => e.position))).toEqual([0, 1, 2, 3]);
      expect(all.map((e) => [e.stream, e.streamRevision])).toEqual([[sn('a'), 0], [sn('b'), 0], [sn('b'), 1], [sn('a'), 1]]);
      expect(rel((await collect(store.readAll({ fromPosition: base + 2 }))).map((e) => e.position))).toEqual([2, 3]);
      expect(rel((await collect(store.readAll({ fromPosition: base + 1, maxCount: 2 }))).map((e) => e.position))).toEqual([1, 2]);
      expect(rel((await collect(store.readStream(sn('b'), { fromRevision: 1 }))).map((e) => e.position))).toEqual([2]);
      expect(rel((await collect(store.readStream(sn('b'), { fromRevision: 1, maxCount: 1 }))).map((e) => e.position))).toEqual([2]);
      // Beyond a stream's end: nothing (the transparent log finds its last checkpoint this way).
      expect(await collect(store.readStream(sn('b'), { fromRevision: 2, maxCount: 1 }))).toEqual([]);
      expect(await collect(store.readStream(sn('missing')))).toEqual([]);
    });

    it('enforces expected revisions', async () => {
      await open();
      expect(await rejection(store.append(sn('s'), [newEvent()], 'stream-exists'))).toBeInstanceOf(WrongExpectedRevisionError);
      await store.append(sn('s'), [newEvent()], 'no-stream');
      const noStream = await rejection(store.append(sn('s'), [newEvent()], 'no-stream'));
      expect(noStream).toMatchObject({ code: 'wrong-expected-revision', actual: 0 });
      expect(await rejection(store.append(sn('s'), [newEvent()], 5))).toMatchObject({ code: 'wrong-expected-revision', expected: 5, actual: 0 });
      expect((await store.append(sn('s'), [newEvent()], 0)).nextExpectedRevision).toBe(1);
      expect((await store.append(sn('s'), [newEvent()], 'stream-exists')).nextExpectedRevision).toBe(2);
      expect((await store.append(sn('s'), [newEvent()], 'any')).nextExpectedRevision).toBe(3);
      expect((await store.size()) - base).toBe(4);
    });

    it('lets exactly one of two concurrent writers with the same expected revision win', async () => {
      await open();
      await store.append(sn('race'), [newEvent()], 'no-stream');
      const results = await Promise.allSettled([store.append(sn('race'), [newEvent()], 0), store.append(sn('race'), [newEvent()], 0)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected');
      expect(lost?.status === 'rejected' && lost.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect((await store.size()) - base).toBe(2);
    });

    it('stores an event id once, in one batch or across batches', async () => {
      await open();
      const event = newEvent('Once');
      const first = await store.append(sn('idem'), [event]);
      const again = await store.append(sn('idem'), [event]);
      expect(again.positions).toEqual(first.positions);
      // A retried append with a stale expected revision still succeeds: it stored nothing new.
      const retried = await store.append(sn('idem'), [event], 'no-stream');
      expect(retried.positions).toEqual(first.positions);
      const mixed = await store.append(sn('idem'), [event, newEvent('New')]);
      expect(rel(mixed.positions)).toEqual([rel(first.positions)[0], 1]);
      expect((await store.size()) - base).toBe(2);
    });

    it('takes the same content in another key order as the same event', async () => {
      await open();
      const event: NewEvent = { eventId: randomUUID(), type: 'Ordered', data: { a: 1, b: { c: [1, { d: 'ä', e: null }], f: true } }, metadata: { x: 1, y: 2 } };
      const first = await store.append(sn('order'), [event]);
      const again = await store.append(sn('order'), [{ ...event, data: { b: { f: true, c: [1, { e: null, d: 'ä' }] }, a: 1 }, metadata: { y: 2, x: 1 } }]);
      expect(again.positions).toEqual(first.positions);
      expect(await rejection(store.append(sn('order'), [{ ...event, data: { b: { f: true, c: [{ e: null, d: 'ä' }, 1] }, a: 1 } }]))).toMatchObject({ code: 'duplicate-event-id' });
      expect((await store.size()) - base).toBe(1);
    });

    it('refuses an event id that comes back with different content', async () => {
      await open();
      const event = newEvent('X', { v: 1 });
      await store.append(sn('idem'), [event]);
      const error = await rejection(store.append(sn('idem'), [{ ...event, data: { v: 2 } }]));
      expect(error).toMatchObject({ code: 'duplicate-event-id' });
      expect(await rejection(store.append(sn('other'), [event]))).toMatchObject({ code: 'duplicate-event-id' });
      expect((await store.size()) - base).toBe(1);
    });

    it('appends a batch atomically: a failing append stores none of its events', async () => {
      await open();
      await store.append(sn('atomic'), [newEvent()]);
      const dup = newEvent();
      await store.append(sn('other'), [dup]);
      await rejection(store.append(sn('atomic'), [newEvent(), { ...dup, data: { changed: true } }]));
      expect((await collect(store.readStream(sn('atomic')))).length).toBe(1);
      expect((await store.size()) - base).toBe(2);
    });

    it('keeps concurrent appends to different streams independent', async () => {
      await open();
      const appends = Array.from({ length: 200 }, (_, i) => store.append(sn(`s-${i % 10}`), [newEvent('E', { i })]));
      const failing = store.append(sn('s-0'), [newEvent()], 'no-stream');
      const results = await Promise.all(appends);
      expect(await rejection(failing)).toBeInstanceOf(WrongExpectedRevisionError);
      const positions = rel(results.flatMap((r) => r.positions)).sort((a, b) => a - b);
      expect(positions).toEqual(Array.from({ length: 200 }, (_, i) => i));
      for (let s = 0; s < 10; s++) {
        expect((await collect(store.readStream(sn(`s-${s}`)))).map((e) => e.streamRevision)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
    });

    it('subscribes: catch-up, then live, in order, without gaps or duplicates', async () => {
      await open();
      for (let i = 0; i < 5; i++) await store.append(sn('sub'), [newEvent('E', { i })]);
      const subscription = store.subscribe(base + 2);
      const seen: StoredEvent[] = [];
      const done = (async () => {
        for await (const e of subscription) {
          seen.push(e);
          if (seen.length === 8) break;
        }
      })();
      for (let i = 5; i < 10; i++) await store.append(sn(i % 2 ? 'sub' : 'other'), [newEvent('E', { i })]);
      await done;
      await subscription.close();
      expect(rel(seen.map((e) => e.position))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('ends a subscription on close', async () => {
      await open();
      const subscription = store.subscribe(base);
      const consumer = collect(subscription);
      await store.append(sn('x'), [newEvent()]);
      await new Promise((r) => setTimeout(r, 50));
      await subscription.close();
      expect((await consumer).length).toBeLessThanOrEqual(1);
    });

    if (target?.reopen) it('keeps every acknowledged append, and its idempotency, across a reopen', async () => {
      await open();
      const events = Array.from({ length: 50 }, (_, i) => newEvent('E', { i }));
      await Promise.all(events.map((e, i) => store.append(sn(`r-${i % 3}`), [e])));
      store = await target!.reopen!(store);
      expect((await store.size()) - base).toBe(50);
      const again = await store.append(sn('r-0'), [events[0]!]);
      expect(again.positions).toHaveLength(1);
      expect((await store.size()) - base).toBe(50);
      expect(rel((await store.append(sn('r-0'), [newEvent()])).positions)).toEqual([50]);
    });
  });
}
