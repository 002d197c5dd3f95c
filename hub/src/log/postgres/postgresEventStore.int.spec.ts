// The conformance suite against PostgreSQL: a cluster this file starts itself (initdb in a
// temporary directory, fsync on), one fresh schema per test. Skipped, saying so, without the binaries.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, postgresSkipReason, TestPostgres } from '../../../../tests/support/postgres.ts';
import { until } from '../../runner/until.ts';
import { collect, describeEventStoreConformance, newEvent } from '../conformance/eventStoreConformance.ts';
import { openPostgresEventStore } from './postgresEventStore.ts';

let cluster: TestPostgres | undefined;
let url = '';
beforeAll(async () => {
  if (!postgresAvailable) return;
  cluster = await TestPostgres.create();
  url = await cluster.createDatabase('elfe');
});
afterAll(async () => {
  await cluster?.destroy();
});

const schemas = new WeakMap<object, string>();
describeEventStoreConformance(
  'PostgreSQL',
  postgresAvailable
    ? {
        async open() {
          const schema = `t_${randomUUID().slice(0, 8)}`;
          const store = await openPostgresEventStore({ url, schema, pollIntervalMs: 200 });
          schemas.set(store, schema);
          return store;
        },
        async reopen(store) {
          const schema = schemas.get(store)!;
          await store.close();
          const again = await openPostgresEventStore({ url, schema, pollIntervalMs: 200 });
          schemas.set(again, schema);
          return again;
        },
      }
    : undefined,
  postgresSkipReason,
);

describe.skipIf(!postgresAvailable)('PostgreSQL event store', () => {
  it('groups concurrent appends into few transactions', async () => {
    const commits: number[] = [];
    const store = await openPostgresEventStore({ url, schema: 'group_commit', onCommit: (appends) => commits.push(appends) });
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.append(`g-${i % 7}`, [newEvent('E', { i })])));
      expect(commits.reduce((a, b) => a + b, 0)).toBe(300);
      expect(commits.length).toBeLessThan(30);
    } finally {
      await store.close();
    }
  });

  it('keeps one gap-free order with two stores (two hubs) appending to one database', async () => {
    const [a, b, reader] = await Promise.all(['two_writers', 'two_writers', 'two_writers'].map((schema) => openPostgresEventStore({ url, schema, pollIntervalMs: 20 })));
    // A reader following live sees every position once and in order, never n+1 before n.
    const subscription = reader!.subscribe(0);
    const followed = collect(subscription, 201);
    try {
      const appends = Array.from({ length: 200 }, (_, i) => (i % 2 ? a! : b!).append(`w-${i % 5}`, [newEvent('E', { i })]));
      // Both race for the same stream's next revision: exactly one wins.
      const race = await Promise.allSettled([a!.append('w-race', [newEvent()], 'no-stream'), b!.append('w-race', [newEvent()], 'no-stream')]);
      await Promise.all(appends);
      expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const all = await collect(a!.readAll());
      expect(all.map((e) => e.position)).toEqual(all.map((_, i) => i));
      expect(all).toHaveLength(201);
      for (let s = 0; s < 5; s++) {
        expect((await collect(b!.readStream(`w-${s}`))).map((e) => e.streamRevision)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      }
      expect((await followed).map((e) => e.position)).toEqual(all.map((_, i) => i));
    } finally {
      await subscription.close();
      await Promise.all([a!.close(), b!.close(), reader!.close()]);
    }
  });

  it('wakes a subscription in another process-like store by NOTIFY, not by polling', async () => {
    const writer = await openPostgresEventStore({ url, schema: 'notify' });
    const reader = await openPostgresEventStore({ url, schema: 'notify', pollIntervalMs: 60_000 });
    const subscription = reader.subscribe(0);
    try {
      const first = (async () => {
        for await (const e of subscription) return e;
        return undefined;
      })();
      await new Promise((r) => setTimeout(r, 100));
      const event = newEvent();
      await writer.append('n', [event]);
      expect((await first)?.eventId).toBe(event.eventId);
    } finally {
      await subscription.close();
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('does not acknowledge a commit whose wait for the synchronous standby was cancelled', async () => {
    const store = await openPostgresEventStore({ url, schema: 'sync_cancel' });
    const names = async () => (await cluster!.sql<{ s: string }>('SELECT current_setting($$synchronous_standby_names$$) AS s'))[0]!.s;
    const event = newEvent();
    try {
      await cluster!.sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
      await cluster!.sql('SELECT pg_reload_conf()');
      await until(async () => (await names()) === 'nobody', { what: 'a synchronous standby that never comes', timeoutMs: 5_000, intervalMs: 20 });
      const outcome = store.append('s', [event]).then(
        () => 'acknowledged',
        (error: unknown) => error,
      );
      const cancelled = async () =>
        (await cluster!.sql<{ c: boolean }>("SELECT pg_cancel_backend(pid) AS c FROM pg_stat_activity WHERE wait_event = 'SyncRep'")).some((r) => r.c);
      await until(cancelled, { what: 'a commit waiting for the standby', timeoutMs: 10_000, intervalMs: 20 });
      expect(await outcome).toMatchObject({ code: 'replication-unconfirmed' });
    } finally {
      await cluster!.sql('ALTER SYSTEM RESET synchronous_standby_names');
      await cluster!.sql('SELECT pg_reload_conf()');
      await until(async () => (await names()) === '', { what: 'no synchronous standby', timeoutMs: 5_000, intervalMs: 20 });
    }
    try {
      // Committed here all the same: the retry is answered from the log and stores nothing twice.
      expect((await store.append('s', [event])).positions).toEqual([0]);
      expect(await store.size()).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('refuses a server that would lose acknowledged appends, with a typed error', async () => {
    // Last in this file: the shared cluster runs with fsync off for the length of this test.
    const fsync = async () => (await cluster!.sql<{ fsync: string }>('SHOW fsync'))[0]!.fsync;
    await cluster!.sql('ALTER SYSTEM SET fsync = off');
    await cluster!.sql('SELECT pg_reload_conf()');
    try {
      await until(async () => (await fsync()) === 'off', { what: 'fsync off', timeoutMs: 5_000, intervalMs: 20 });
      await expect(openPostgresEventStore({ url })).rejects.toMatchObject({ code: 'postgres-not-writable' });
    } finally {
      await cluster!.sql('ALTER SYSTEM RESET fsync');
      await cluster!.sql('SELECT pg_reload_conf()');
      await until(async () => (await fsync()) === 'on', { what: 'fsync on', timeoutMs: 5_000, intervalMs: 20 });
    }
  });

  it('refuses a standby, with a typed error', async () => {
    const standby = await TestPostgres.standbyOf(cluster!, 'standby_refused');
    try {
      await expect(openPostgresEventStore({ url: standby.url('elfe') })).rejects.toMatchObject({ code: 'postgres-not-writable' });
    } finally {
      await standby.destroy();
    }
  });
});
