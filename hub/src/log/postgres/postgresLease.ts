// The sequencer lease of hubs sharing one PostgreSQL store: a session-level advisory lock held
// on a dedicated connection. Whoever holds it is the only hub that runs ingress, routing, relay
// and receipts; the others wait and try again every `pollMs`. The lock goes with the session:
// a hub killed with SIGKILL loses it at once (the kernel closes its socket); a hub that is
// paused or cut off loses it when the server ends its silent session (`idle_session_timeout`,
// the hub pings well within it). Each take-over increments the epoch in `<schema>.lease`, and
// the store checks that epoch in every append transaction (see `fence` in
// postgresEventStore.ts): an old holder that wakes up after losing the lease cannot append.
import { hostname } from 'node:os';
import pg from 'pg';

export interface LeaseOptions {
  readonly url: string;
  readonly schema?: string;
  /** Silence after which the server ends the lease session (the lease is lost). Default 5000 ms. */
  readonly timeoutMs?: number;
  /** How often a standing-by hub tries to take the lease. Default 500 ms. */
  readonly pollMs?: number;
  /** Who holds it (shown in the lease table). */
  readonly holder?: string;
  readonly log?: (line: string) => void;
  /** Stops waiting (the hub is asked to stop while standing by). */
  readonly signal?: AbortSignal;
}

export interface Lease {
  /** The epoch this holder took; appends are fenced on it. */
  readonly epoch: number;
  /** Milliseconds spent standing by before the lease was taken. */
  readonly waitedMs: number;
  /** Settles when the lease is lost (the session broke); never rejects. */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

export class LeaseAbortedError extends Error {
  override readonly name = 'LeaseAbortedError';
  readonly code = 'lease-aborted';
}

const identifier = /^[a-z_][a-z0-9_]{0,40}$/;

/** Waits until this process holds the lease, then returns it. */
export async function acquirePostgresLease(options: LeaseOptions): Promise<Lease> {
  const schema = options.schema ?? 'elfe';
  if (!identifier.test(schema)) throw new RangeError(`schema must match ${String(identifier)}: ${schema}`);
  const timeoutMs = options.timeoutMs ?? 5000;
  const pollMs = options.pollMs ?? 500;
  const say = options.log ?? (() => undefined);
  const holder = options.holder ?? `${hostname()} pid ${process.pid}`;
  const key = `elfe-hub-sequencer:${schema}`;
  const started = Date.now();
  let client: pg.Client | undefined;
  let announced = false;
  for (;;) {
    if (options.signal?.aborted) {
      await client?.end().catch(() => undefined);
      throw new LeaseAbortedError('stopped while standing by');
    }
    try {
      if (!client) {
        const fresh = new pg.Client({ connectionString: options.url, application_name: 'elfe-hub lease', connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 1000 });
        fresh.on('error', () => undefined);
        await fresh.connect();
        client = fresh;
        // The server ends this session after `timeoutMs` of silence, releasing the lock.
        await client.query(`SET idle_session_timeout = ${Math.round(timeoutMs)}`);
        await client.query(`SET tcp_keepalives_idle = ${Math.max(1, Math.round(timeoutMs / 3000))}`);
        await client.query(`SET tcp_keepalives_interval = 1`);
        await client.query(`SET tcp_keepalives_count = 3`);
        await client.query('BEGIN');
        await client.query("SELECT pg_advisory_xact_lock(hashtext('elfe-event-store-schema'))");
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".lease (id int PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL, holder text NOT NULL, acquired_at timestamptz NOT NULL)`);
        await client.query(`INSERT INTO "${schema}".lease VALUES (1, 0, '', now()) ON CONFLICT (id) DO NOTHING`);
        await client.query('COMMIT');
      }
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]);
      if (got.rows[0]?.ok) break;
      if (!announced) {
        const current = await client.query<{ holder: string; epoch: string }>(`SELECT holder, epoch FROM "${schema}".lease WHERE id = 1`);
        say(`standing by: the sequencer lease is held by ${current.rows[0]?.holder || 'another hub'} (epoch ${current.rows[0]?.epoch ?? '?'})`);
        announced = true;
      }
    } catch (error) {
      say(`lease: ${(error as Error).message}; trying again`);
      await client?.end().catch(() => undefined);
      client = undefined;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const held = client;
  // Taking over: the epoch moves on. The row lock waits for any append of the old holder that
  // is still in flight (it read the epoch FOR SHARE); after this commit, none of its appends passes.
  const bumped = await held.query<{ epoch: string }>(`UPDATE "${schema}".lease SET epoch = epoch + 1, holder = $1, acquired_at = now() WHERE id = 1 RETURNING epoch`, [holder]);
  const epoch = Number(bumped.rows[0]!.epoch);
  let releasing = false;
  let resolveLost!: (error: Error) => void;
  const lost = new Promise<Error>((resolve) => (resolveLost = resolve));
  const ping = setInterval(() => {
    held.query('SELECT 1').catch((error: Error) => {
      if (!releasing) resolveLost(error);
    });
  }, Math.max(200, Math.floor(timeoutMs / 4)));
  ping.unref();
  held.removeAllListeners('error');
  held.on('error', (error: Error) => {
    if (!releasing) resolveLost(error);
  });
  held.on('end', () => {
    if (!releasing) resolveLost(new Error('the lease session ended'));
  });
  void lost.then(() => clearInterval(ping));
  return {
    epoch,
    waitedMs: Date.now() - started,
    lost,
    async release() {
      releasing = true;
      clearInterval(ping);
      await held.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      await held.end().catch(() => undefined);
    },
  };
}
