// Child process for the PostgreSQL crash and failover tests: appends as fast as it can (16
// writers, so group commit is exercised) and prints each acknowledged event id as
// `stream revision eventId`, until killed or until the server goes away.
import { randomUUID } from 'node:crypto';
import { openPostgresEventStore } from '../../hub/src/log/postgres/postgresEventStore.ts';

const [url, schema] = process.argv.slice(2);
if (!url || !schema) throw new Error('usage: postgresAppender URL SCHEMA');
const store = await openPostgresEventStore({ url, schema, onError: () => undefined });
async function writer(id: number): Promise<void> {
  for (let i = 0; ; i++) {
    const eventId = randomUUID();
    const result = await store.append(`crash-${id}`, [{ eventId, type: 'Crash', data: { run: process.pid, i }, metadata: {} }]);
    process.stdout.write(`crash-${id} ${result.nextExpectedRevision} ${eventId}\n`);
  }
}
try {
  await Promise.all(Array.from({ length: 16 }, (_, i) => writer(i)));
} catch (error) {
  process.stderr.write(`appender stopped: ${(error as Error).message}\n`);
  process.exit(3);
}
