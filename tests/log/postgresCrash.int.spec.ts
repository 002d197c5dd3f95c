// kill -9 during appends to PostgreSQL, first of the appending process, then of the server
// (postmaster and every backend), which then comes back through crash recovery: every append
// acknowledged before a kill is there, at its revision, and the global order has no gaps.
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore } from '../../hub/src/log/postgres/postgresEventStore.ts';
import { Appender, expectSurvivors, postgresAvailable, TestPostgres } from '../support/postgres.ts';

const clusters: TestPostgres[] = [];
afterAll(async () => {
  for (const c of clusters) await c.destroy();
});

describe.skipIf(!postgresAvailable)('PostgreSQL log after kill -9', () => {
  it('loses no acknowledged append when the appender or the server is killed', async () => {
    const cluster = await TestPostgres.create();
    clusters.push(cluster);
    const url = await cluster.createDatabase('elfe');

    const first = new Appender(url, 'elfe');
    await first.acknowledged(2000);
    await first.kill();

    const second = new Appender(url, 'elfe');
    await second.acknowledged(2000);
    await cluster.kill();
    await second.exited;

    await cluster.start();
    const store = await openPostgresEventStore({ url });
    try {
      const all = await expectSurvivors(store, [...first.acked, ...second.acked]);
      expect(all.length).toBeGreaterThanOrEqual(first.acked.length + second.acked.length);
      // The log goes on where it stopped.
      expect((await store.append('after', [{ eventId: 'after-crash', type: 'T', data: null, metadata: null }])).positions).toEqual([all.length]);
    } finally {
      await store.close();
    }
  });
});
