import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Receipt } from '../../contracts/index.ts';
import { legacyReceiptsDirOf, openReceiptStore, receiptsFileOf, type ReceiptStore } from './receiptStore.ts';

const stateDir = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-receipts-'));
const idOf = (i: number) => `5d2c9a40-7b1e-4c3a-9f6d-${i.toString(16).padStart(12, '0')}`;
const receiptOf = (i: number, receivedAt = '2026-11-05T10:00:00.000Z'): Receipt => ({
  deliveryId: idOf(i),
  recipient: 'egs:11000000' as never,
  status: 'acknowledged',
  receivedHash: 'a'.repeat(64),
  receivedAt,
});
/** The rows as another connection sees them: only what was committed. */
function committedIds(dir: string): string[] {
  const db = new Database(receiptsFileOf(dir), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT delivery_id AS id FROM receipts ORDER BY delivery_id').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

describe('the receipt store', () => {
  const open: ReceiptStore[] = [];
  const opened = (dir: string) => {
    const store = openReceiptStore(dir);
    open.push(store);
    return store;
  };
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  it('shows a batch to get at once, to other connections only once committed, and drops it on rollback', () => {
    const dir = stateDir();
    const store = opened(dir);
    store.put(receiptOf(1));
    store.put(receiptOf(2));
    expect(store.get(idOf(1))).toEqual(receiptOf(1));
    expect(committedIds(dir)).toEqual([]);
    store.commit();
    expect(committedIds(dir)).toEqual([idOf(1), idOf(2)]);
    expect(store.commits).toBe(1);
    store.put(receiptOf(3));
    store.rollback();
    expect(store.get(idOf(3))).toBeUndefined();
    // Nothing open: a commit is no commit.
    store.commit();
    expect(store.commits).toBe(1);
    store.close();
    expect(opened(dir).get(idOf(2))).toEqual(receiptOf(2));
  });

  it('keeps a receipt once: a second one for the same delivery is refused, the first stays', () => {
    const store = opened(stateDir());
    store.put(receiptOf(1));
    expect(() => store.put(receiptOf(1, '2026-11-05T11:00:00.000Z'))).toThrow(/UNIQUE/);
    store.commit();
    expect(store.get(idOf(1))?.receivedAt).toBe('2026-11-05T10:00:00.000Z');
  });

  it('a refused receipt costs only itself, and a table made before (with its trigger) stays as it was', () => {
    const dir = stateDir();
    opened(dir).close();
    const db = new Database(receiptsFileOf(dir));
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON receipts WHEN NEW.delivery_id = '${idOf(2)}' BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    db.close();
    const store = opened(dir);
    store.put(receiptOf(1));
    expect(() => store.put(receiptOf(2))).toThrow(/refused/);
    store.put(receiptOf(3));
    store.commit();
    expect(committedIds(dir)).toEqual([idOf(1), idOf(3)]);
  });

  it('is 0600 with its WAL and index, whatever the umask', () => {
    const saved = process.umask(0);
    try {
      const dir = stateDir();
      const store = opened(dir);
      store.put(receiptOf(1));
      store.commit();
      for (const f of [receiptsFileOf(dir), `${receiptsFileOf(dir)}-wal`, `${receiptsFileOf(dir)}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
    } finally {
      process.umask(saved);
    }
  });

  it('removes erased receipts so that neither the database file nor its WAL holds their ids any more', () => {
    const dir = stateDir();
    const store = opened(dir);
    // Enough rows, in batches, for a b-tree of several levels and a WAL checkpointed on the way.
    const n = 6000;
    for (let i = 0; i < n; i++) {
      store.put(receiptOf(i));
      if (i % 64 === 63) store.commit();
    }
    store.commit();
    const erased = [7, 1234, 2999, 4321, 5998].map(idOf);
    store.remove(erased);
    for (const id of erased) expect(store.get(id)).toBeUndefined();
    expect(store.get(idOf(8))).toEqual(receiptOf(8));
    const bytes = [receiptsFileOf(dir), `${receiptsFileOf(dir)}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1'));
    for (const id of erased) expect(bytes.some((b) => b.includes(id)), id).toBe(false);
    // The kept ones are still there, as bytes too (the scan can see an id).
    expect(bytes.some((b) => b.includes(idOf(8)))).toBe(true);
  });

  it('refuses to remove while a batch is open (it is not committed yet)', () => {
    const store = opened(stateDir());
    store.put(receiptOf(1));
    expect(() => store.remove([idOf(1)])).toThrow(/not committed/);
  });

  it('imports the receipt files of earlier versions once, keeps rows it has, and removes the files after', () => {
    const dir = stateDir();
    const legacy = legacyReceiptsDirOf(dir);
    const writeLegacy = () => {
      mkdirSync(legacy, { recursive: true });
      for (const i of [1, 2, 3]) writeFileSync(path.join(legacy, `${idOf(i)}.json`), JSON.stringify(receiptOf(i)));
      // A write that never reached its rename: never sent, not imported.
      writeFileSync(path.join(legacy, `.${idOf(4)}.json.123.tmp`), '{"deliv');
    };
    writeLegacy();
    let store = opened(dir);
    expect(store.imported).toBe(3);
    expect(existsSync(legacy)).toBe(false);
    expect(store.get(idOf(2))).toEqual(receiptOf(2));
    expect(store.get(idOf(4))).toBeUndefined();
    store.close();

    // Killed after the import's commit, before the files were removed: imported again, to the same rows.
    writeLegacy();
    writeFileSync(path.join(legacy, `${idOf(1)}.json`), JSON.stringify(receiptOf(1, '2026-11-05T12:00:00.000Z')));
    store = opened(dir);
    expect(store.imported).toBe(3);
    expect(existsSync(legacy)).toBe(false);
    expect(store.get(idOf(1))).toEqual(receiptOf(1));
    expect(committedIds(dir)).toEqual([idOf(1), idOf(2), idOf(3)]);
  });

  it('refuses to start on a legacy receipt it cannot read, importing nothing and keeping the files', () => {
    const dir = stateDir();
    const legacy = legacyReceiptsDirOf(dir);
    mkdirSync(legacy, { recursive: true });
    writeFileSync(path.join(legacy, `${idOf(1)}.json`), JSON.stringify(receiptOf(1)));
    writeFileSync(path.join(legacy, `${idOf(2)}.json`), '{"deliveryId":');
    expect(() => openReceiptStore(dir)).toThrow(new RegExp(`${idOf(2)}\\.json is no receipt`));
    expect(readdirSync(legacy).sort()).toEqual([`${idOf(1)}.json`, `${idOf(2)}.json`]);
    expect(committedIds(dir)).toEqual([]);
  });
});
