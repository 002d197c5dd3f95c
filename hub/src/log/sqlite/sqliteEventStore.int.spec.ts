import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, logEntryLeafHash, storedEntryLeafHash } from '../../../../contracts/index.ts';
import { collect, describeEventStoreConformance } from '../conformance/eventStoreConformance.ts';
import type { NewEvent } from '../eventStore.ts';
import { openSqliteEventStore } from './sqliteEventStore.ts';

let file = '';
describeEventStoreConformance('SQLite file', {
  async open() {
    file = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-sqlite-')), 'log.sqlite');
    return openSqliteEventStore(file);
  },
  async reopen(store) {
    await store.close();
    return openSqliteEventStore(file);
  },
});

const freshFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-sqlite-format-')), 'log.sqlite');
const event = (eventId: string, data: NewEvent['data']): NewEvent => ({ eventId, type: 'Ordered', data, metadata: { z: 1, a: 'ä' } });

describe('SQLite stored form', () => {
  it('stores data and metadata as canonical text and reads them back as stored pages whose leaves are the entries\'', async () => {
    const target = freshFile();
    const store = openSqliteEventStore(target);
    await store.append('s', [event('e1', { b: [1, { y: '\n"', x: 1e21 }], a: -0 }), event('e2', 'just text')]);
    const pages = store.canonicalPages();
    expect(pages).toBeDefined();
    const stored = pages!.readCanonicalPage(0, 10);
    expect(stored.map((e) => [e.dataJson, e.metadataJson])).toEqual([
      ['{"a":0,"b":[1,{"x":1e+21,"y":"\\n\\""}]}', '{"a":"ä","z":1}'],
      ['"just text"', '{"a":"ä","z":1}'],
    ]);
    const events = await collect(store.readAll());
    expect(stored.map((e) => Buffer.from(storedEntryLeafHash(e)))).toEqual(events.map((e) => Buffer.from(logEntryLeafHash(e))));
    await store.close();
    const db = new Database(target, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });

  it('decodes a row once for every reader, and reads a row edited in the file as it now is', async () => {
    const target = freshFile();
    const store = openSqliteEventStore(target);
    await store.append('s', [event('e1', { name: 'first' })]);
    const [viaAll] = await collect(store.readAll());
    const [viaStream] = await collect(store.readStream('s'));
    expect(viaStream).toBe(viaAll);
    expect(Object.isFrozen(viaAll)).toBe(true);
    const db = new Database(target);
    db.prepare("UPDATE events SET data = '{\"name\":\"edited\"}' WHERE position = 0").run();
    db.close();
    const [edited] = await collect(store.readAll());
    expect(edited!.data).toEqual({ name: 'edited' });
    await store.close();
  });

  it('reads what it committed lately as committed (stream reads, followers, lookups by id): the same entries the file gives, without asking it', async () => {
    const target = freshFile();
    const store = openSqliteEventStore(target);
    const follower = store.subscribe(0)[Symbol.asyncIterator]();
    // One group commit with two streams interleaved and an event stored twice in it (the second
    // time beside a new one), then an idempotent re-append beside a new event.
    await Promise.all([
      store.append('s', [event('s1', { n: 1 }), event('s2', { n: 2 })]),
      store.append('t', [event('t1', { n: 1 })]),
      store.append('s', [event('s3', { n: 3 })]),
      store.append('s', [event('s1', { n: 1 }), event('s5', { n: 5 })]),
    ]);
    await store.append('s', [event('s3', { n: 3 }), event('s4', { n: 4 })]);
    const fromMemory = { s: await collect(store.readStream('s')), t: await collect(store.readStream('t')), sPart: await collect(store.readStream('s', { fromRevision: 1, maxCount: 2 })) };
    const byId = await Promise.all(['s1', 't1', 's3', 's4', 's5'].map((id) => store.getByEventId(id)));
    const followed = [];
    for (let i = 0; i < 6; i++) followed.push((await follower.next()).value);
    // The file, read by a second store: the same entries, field by field.
    const reader = openSqliteEventStore(target);
    expect(fromMemory.s).toEqual(await collect(reader.readStream('s')));
    expect(fromMemory.t).toEqual(await collect(reader.readStream('t')));
    expect(fromMemory.sPart).toEqual(await collect(reader.readStream('s', { fromRevision: 1, maxCount: 2 })));
    expect(followed).toEqual(await collect(reader.readAll()));
    expect(byId).toEqual(await Promise.all(['s1', 't1', 's3', 's4', 's5'].map((id) => reader.getByEventId(id))));
    expect(fromMemory.s.map((e) => [e.eventId, e.streamRevision])).toEqual([['s1', 0], ['s2', 1], ['s3', 2], ['s5', 3], ['s4', 4]]);
    await reader.close();
    // Edited in the file behind the store's back: a stream read still gives what was committed
    // (nothing was asked), a read of the whole log reads the file as it now is, and so does the
    // store opened again; the audit finds such an edit (tests/log/tamper.int.spec.ts).
    const db = new Database(target);
    db.prepare("UPDATE events SET data = '{\"n\":99}' WHERE event_id = 's4'").run();
    db.close();
    expect((await collect(store.readStream('s', { fromRevision: 4 })))[0]!.data).toEqual({ n: 4 });
    expect((await store.getByEventId('s4'))!.data).toEqual({ n: 4 });
    expect((await collect(store.readAll({ fromPosition: 5 })))[0]!.data).toEqual({ n: 99 });
    await store.close();
    const again = openSqliteEventStore(target);
    expect((await collect(again.readStream('s', { fromRevision: 4 })))[0]!.data).toEqual({ n: 99 });
    await again.close();
  });

  it('knows a stream\'s head from its own appends and from reads to the stream\'s end, never lower than settled', async () => {
    const file = freshFile();
    const store = openSqliteEventStore(file);
    const noted = (id: string): NewEvent => ({ eventId: id, type: 'Noted', data: {}, metadata: {} });
    expect(store.knownHead('s')).toBeUndefined();
    await store.append('s', [noted('h1'), noted('h2')]);
    expect(store.knownHead('s')).toBe(1);
    await store.close();
    // Opened again: unknown until read to its end; a read cut short by maxCount says nothing.
    const again = openSqliteEventStore(file);
    await collect(again.readStream('s', { maxCount: 1 }));
    expect(again.knownHead('s')).toBeUndefined();
    await collect(again.readStream('s'));
    expect(again.knownHead('s')).toBe(1);
    await again.append('s', [noted('h3')]);
    expect(again.knownHead('s')).toBe(2);
    // A read of an older part does not lower it.
    await collect(again.readStream('s', { fromRevision: 0, maxCount: 1 }));
    expect(again.knownHead('s')).toBe(2);
    // A stream read from its start and found empty is known to be absent, until an append.
    await collect(again.readStream('t', { fromRevision: 1 }));
    expect(again.knownHead('t')).toBeUndefined();
    await collect(again.readStream('t'));
    expect(again.knownHead('t')).toBe(-1);
    await again.append('t', [noted('t1')]);
    expect(again.knownHead('t')).toBe(0);
    await again.close();
  });

  it('refuses a value without a JSON form before anything is stored', async () => {
    const store = openSqliteEventStore(freshFile());
    await expect(store.append('s', [event('e1', { n: Number.NaN })])).rejects.toBeInstanceOf(CanonicalJsonError);
    expect(await store.size()).toBe(0);
    await store.close();
  });

  it('keeps a store written before canonical text working: no stored pages, duplicates compared by value', async () => {
    const target = freshFile();
    const first = openSqliteEventStore(target);
    await first.append('s', [event('old', { b: 1, a: 2 })]);
    await first.close();
    // What an older version left behind: JSON.stringify text in insertion order, user_version 0.
    const db = new Database(target);
    db.pragma('user_version = 0');
    db.prepare("UPDATE events SET data = '{\"b\":1,\"a\":2}', metadata = '{\"z\":1,\"a\":\"ä\"}'").run();
    db.close();

    const store = openSqliteEventStore(target);
    expect(store.canonicalPages()).toBeUndefined();
    expect((await store.append('s', [event('old', { a: 2, b: 1 })])).positions).toEqual([0]);
    await expect(store.append('s', [event('old', { a: 2, b: 3 })])).rejects.toMatchObject({ code: 'duplicate-event-id' });
    expect((await store.append('s', [event('new', { d: 1, c: 2 })])).positions).toEqual([1]);
    expect((await collect(store.readAll())).map((e) => e.data)).toEqual([{ b: 1, a: 2 }, { c: 2, d: 1 }]);
    await store.close();
  });
});
