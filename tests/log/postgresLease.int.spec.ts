// The sequencer lease and the fencing check on append: one holder at a time; a standing-by
// hub takes over once the holder's session is gone (killed process, or the server ending a
// silent session), and the old holder's store can no longer append: its epoch is stale.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError, openPostgresEventStore } from '../../hub/src/log/postgres/postgresEventStore.ts';
import { acquirePostgresLease } from '../../hub/src/log/postgres/postgresLease.ts';
import { postgresAvailable, TestPostgres } from '../support/postgres.ts';
import { until } from '../../hub/src/runner/until.ts';

const event = (id: string) => ({ eventId: id, type: 'T', data: { id }, metadata: null });

describe.skipIf(!postgresAvailable)('PostgreSQL sequencer lease with fencing', () => {
  let server: TestPostgres;
  let url: string;
  beforeAll(async () => {
    server = await TestPostgres.create();
    url = await server.createDatabase('lease');
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('one holder; the standby takes over when the holder\'s session is gone, and the old holder is fenced', async () => {
    const first = await acquirePostgresLease({ url, pollMs: 50 });
    const storeA = await openPostgresEventStore({ url, fence: () => first.epoch });
    expect((await storeA.append('s', [event('a1')])).positions).toEqual([0]);

    let secondLease: Awaited<ReturnType<typeof acquirePostgresLease>> | undefined;
    const lines: string[] = [];
    const waiting = acquirePostgresLease({ url, pollMs: 50, log: (l) => lines.push(l) }).then((l) => (secondLease = l));
    await until(() => lines.some((l) => /standing by/.test(l)), { what: 'standing by', timeoutMs: 5000, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondLease).toBeUndefined();

    // The holder's session ends (as when its process is killed, or the server ends a silent session).
    const t0 = Date.now();
    await server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'elfe-hub lease' AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)", 'lease');
    const second = await waiting;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(second.epoch).toBe(first.epoch + 1);
    expect((await first.lost).message).toBeTruthy();

    // The old holder, still running, appends: refused, nothing stored.
    await expect(storeA.append('s', [event('a2')])).rejects.toBeInstanceOf(FencedError);
    const storeB = await openPostgresEventStore({ url, fence: () => second.epoch });
    expect((await storeB.append('s', [event('b1')])).positions).toEqual([1]);
    expect(await storeB.size()).toBe(2);
    expect(await storeB.getByEventId('a2')).toBeUndefined();
    await storeA.close();
    await storeB.close();
    await first.release();
    await second.release();
  });

  it('a holder keeps the lease past the session timeout while it pings; a silent session is ended by the server and the lease taken over', async () => {
    const held = await acquirePostgresLease({ url, timeoutMs: 1000, pollMs: 50 });
    const kept = await Promise.race([held.lost.then(() => 'lost'), new Promise((r) => setTimeout(() => r('held'), 3000))]);
    expect(kept).toBe('held');
    await held.release();

    // A holder that stops talking (a paused process): the same session settings, no pings.
    const silent = new pg.Client({ connectionString: url });
    silent.on('error', () => undefined);
    await silent.connect();
    await silent.query('SET idle_session_timeout = 1000');
    expect((await silent.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('elfe-hub-sequencer:elfe')) AS ok")).rows[0]!.ok).toBe(true);
    const t0 = Date.now();
    const next = await acquirePostgresLease({ url, pollMs: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(next.epoch).toBeGreaterThan(held.epoch);
    await next.release();
    await silent.end().catch(() => undefined);
  });
});
