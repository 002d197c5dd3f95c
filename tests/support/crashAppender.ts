// Child process for the crash tests: appends to a SQLite log as fast as it can (many appends
// in flight, so group commit is exercised) and prints each acknowledged event id, until killed.
import { randomUUID } from 'node:crypto';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: crashAppender FILE');
const store = openSqliteEventStore(file);
let n = 0;
async function worker(id: number): Promise<never> {
  for (;;) {
    const eventId = randomUUID();
    const i = n++;
    await store.append(`crash-${id}`, [{ eventId, type: 'Crash', data: { i }, metadata: {} }]);
    process.stdout.write(`${eventId}\n`);
  }
}
await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)));
