import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeEventStoreConformance } from '../conformance/eventStoreConformance.ts';
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
