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
