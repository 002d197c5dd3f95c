// Real PostgreSQL clusters for the tests and the bench: initdb into a temporary directory, one postmaster per
// cluster on 127.0.0.1 and a free port, fsync on. PostgreSQL refuses to run as root, so when the
// tests run as root every server command runs as the `postgres` user. Where the binaries are
// missing the suites skip, saying so (scripts/setup.sh installs them).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { until } from './until.ts';

interface Runner {
  readonly bin: string;
  readonly uid?: number;
  readonly gid?: number;
}

function findBinDir(): string | undefined {
  const has = (dir: string) => ['initdb', 'postgres', 'pg_basebackup'].every((b) => existsSync(path.join(dir, b)));
  const fromEnv = process.env.ELFE_PG_BIN;
  if (fromEnv) return has(fromEnv) ? fromEnv : undefined;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(path.join(debian, v, 'bin'))) return path.join(debian, v, 'bin');
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return has(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function findRunner(): Runner | string {
  const bin = findBinDir();
  if (!bin) return 'PostgreSQL server binaries (initdb, postgres, pg_basebackup) not found; run scripts/setup.sh or set ELFE_PG_BIN';
  if (process.getuid?.() !== 0) return { bin };
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { bin, uid, gid };
  } catch {
    return 'running as root and there is no `postgres` user to run PostgreSQL as';
  }
}

const found = findRunner();
const runner = typeof found === 'string' ? undefined : found;
export const postgresAvailable = runner !== undefined;
export const postgresSkipReason = typeof found === 'string' ? found : '';
if (!postgresAvailable) console.warn(`skipped: ${postgresSkipReason}`);

const asServerUser = () => (runner?.uid !== undefined ? { uid: runner.uid, gid: runner.gid! } : {});
const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };

function run(tool: string, args: readonly string[]): void {
  execFileSync(path.join(runner!.bin, tool), args, { ...asServerUser(), env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A directory the server user owns (0700), removed by {@link TestPostgres.destroy}. */
function serverDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (runner?.uid !== undefined) chownSync(dir, runner.uid, runner.gid!);
  return dir;
}

export const testUser = 'elfe';

export interface StartOptions {
  /** Extra `-c name=value` settings. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** One PostgreSQL cluster (data directory and postmaster). */
export class TestPostgres {
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly settings: Readonly<Record<string, string>>,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get log(): string {
    return this.#log;
  }

  /** Connection string for a database of this cluster. */
  url(database = 'postgres'): string {
    return `postgres://${testUser}@127.0.0.1:${this.port}/${database}`;
  }

  /** initdb, start, and wait until it accepts connections. */
  static async create(options: StartOptions = {}): Promise<TestPostgres> {
    const dir = serverDir('elfe-pg-');
    // --no-sync only skips initdb's own final flush of the template files; the server runs with fsync on.
    run('initdb', ['-D', path.join(dir, 'data'), '-U', testUser, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions', '--wal-segsize=1']);
    const cluster = new TestPostgres(dir, await freePort(), options.settings ?? {});
    await cluster.start();
    return cluster;
  }

  /** A streaming standby of `primary` (pg_basebackup -R), started and connected. */
  static async standbyOf(primary: TestPostgres, name: string): Promise<TestPostgres> {
    const dir = serverDir('elfe-pg-standby-');
    run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', testUser, '-D', path.join(dir, 'data'), '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync']);
    const standby = new TestPostgres(dir, await freePort(), { cluster_name: name, hot_standby: 'on', wal_retrieve_retry_interval: '100ms' });
    await standby.start();
    return standby;
  }

  async start(): Promise<void> {
    // fsync, full_page_writes and synchronous_commit keep their defaults (on), so that a test can
    // turn one off with ALTER SYSTEM; a -c here would outrank it.
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.dir,
      max_connections: '50',
      shared_buffers: '32MB',
      ...this.settings,
    };
    const args = ['-D', this.dataDir, '-p', String(this.port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const child = spawn(path.join(runner!.bin, 'postgres'), args, { ...asServerUser(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const collect = (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-100_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    await this.#waitReady(child);
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}:\n${this.#log}`);
      const client = new pg.Client({ connectionString: this.url() });
      try {
        await client.connect();
        await client.end();
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections: ${(error as Error).message}\n${this.#log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Runs one SQL statement on a database of this cluster. */
  async sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, database = 'postgres'): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query<T>(text)).rows;
    } finally {
      await client.end();
    }
  }

  async createDatabase(name: string): Promise<string> {
    await this.sql(`CREATE DATABASE "${name}"`);
    return this.url(name);
  }

  /** SIGKILL to the postmaster and every backend at once (the machine is gone). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Backends are session leaders of their own (setsid), so a process-group kill would miss
    // them; and a backend that outlives its postmaster even briefly is no machine crash.
    for (const pid of [child.pid!, ...childrenOf(child.pid!)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    await until(() => portClosed(this.port), { what: `port ${this.port} to close`, timeoutMs: 10_000, intervalMs: 20 });
  }

  /** Fast shutdown (SIGINT): a clean checkpoint, then exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    await exited;
  }

  /** Ends the server without a shutdown checkpoint (its files are deleted next) and removes its directory. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces): state, ppid, …
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}


