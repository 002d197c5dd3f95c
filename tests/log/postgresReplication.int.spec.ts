// Failover: a primary and a streaming standby on loopback with synchronous replication; a child
// process appends as fast as it can, the primary (postmaster and backends) is killed with
// SIGKILL mid-burst, the standby is promoted and the store opened on it. Every append
// acknowledged before the kill is there, at its revision; positions are gap-free, order intact.
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresEventStore } from '../../hub/src/log/postgres/postgresEventStore.ts';
import { Appender, expectSurvivors, postgresAvailable, TestPostgres } from '../support/postgres.ts';
import { until } from '../../hub/src/runner/until.ts';

const clusters: TestPostgres[] = [];
afterAll(async () => {
  for (const c of clusters) await c.destroy();
});

describe.skipIf(!postgresAvailable)('PostgreSQL failover to a synchronous standby', () => {
  it('keeps every acknowledged append across kill -9 of the primary and promotion', async () => {
    const primary = await TestPostgres.create();
    clusters.push(primary);
    const url = await primary.createDatabase('elfe');
    const standby = await TestPostgres.standbyOf(primary, 'standby1');
    clusters.push(standby);
    await primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'");
    await primary.sql('SELECT pg_reload_conf()');
    await until(async () => (await primary.sql("SELECT 1 FROM pg_stat_replication WHERE application_name = 'standby1' AND sync_state = 'sync'")).length === 1, { what: 'a synchronous standby', timeoutMs: 15_000, intervalMs: 20 });

    const appender = new Appender(url, 'elfe');
    await appender.acknowledged(1500);
    await primary.kill();
    // Acknowledgements the child read just before the kill still count; then it is stopped.
    await Promise.race([appender.exited, new Promise((r) => setTimeout(r, 1000))]);
    await appender.kill();
    const acked = appender.acked.length;

    await standby.sql('SELECT pg_promote(true, 30)');
    const store = await openPostgresEventStore({ url: standby.url('elfe') });
    try {
      const all = await expectSurvivors(store, appender.acked);
      expect(all.length).toBeGreaterThanOrEqual(acked);
      expect((await store.append('after', [{ eventId: 'after-failover', type: 'T', data: null, metadata: null }])).positions).toEqual([all.length]);
    } finally {
      await store.close();
    }
  });
});
