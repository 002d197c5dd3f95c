// A local nats-server (≥ 2.10, JetStream) as a child process: for `elfe start` when no NATS
// URL is configured, for the demo and for the tests. JetStream syncs every write to disk
// (`sync_interval: always`), so an acknowledged publish survives a crash of the machine.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from '../repoRoot.ts';
import { backoffMs, pause } from '../../../../connectors/kit/lifecycle.ts';


function versionOf(binary: string): [number, number, number] | undefined {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(`${run.stdout}${run.stderr}`);
  return run.status === 0 && m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** A nats-server ≥ 2.10: `ELFE_NATS_SERVER`, the project's `.tools/`, or the PATH. */
export function findNatsServer(): string | undefined {
  const pathDirs = (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'nats-server'));
  const candidates = [process.env.ELFE_NATS_SERVER, path.join(repoRoot, '.tools/nats-server/nats-server'), ...pathDirs];
  for (const candidate of candidates) {
    if (!candidate || !existsSync(candidate)) continue;
    const v = versionOf(candidate);
    if (v && (v[0] > 2 || (v[0] === 2 && v[1] >= 10))) return candidate;
  }
  return undefined;
}

/** Ports this process handed out already: the system may offer a just-closed port again. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const chosen = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(chosen));
      });
    });
    if (!handedOut.has(port) || attempt >= 20) {
      handedOut.add(port);
      return port;
    }
  }
}

/** True when nothing listens on `host:port` (this process could bind it). */
export async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    // Only a listener there counts; another failure (an address not on this machine) is the real start's to report.
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRINUSE'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Another process listens on the port this nats-server is configured for. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly code = 'port-in-use';
  readonly hint: string;
  constructor(readonly port: number) {
    super(`port ${port} is in use by another process`);
    this.hint = `stop the other process (ss -ltnp 'sport = :${port}' shows it), or choose another port`;
  }
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not accept connections on port ${port} within ${timeoutMs} ms`);
}

export interface LocalNatsServer {
  readonly url: string;
  /** The nats-server's own process id. */
  pid(): number | undefined;
  readonly port: number;
  readonly storeDir: string;
  stop(): Promise<void>;
  /** Stops and starts again on the same port and store (for fault tests). */
  restart(): Promise<void>;
  /** Kills the server with SIGKILL (no clean shutdown). */
  kill(): Promise<void>;
  /** Rewrites the extra configuration (e.g. users after a revocation) and reloads it (SIGHUP). */
  reconfigure(extraConfig: string): Promise<void>;
}

export interface LocalNatsServerOptions {
  readonly storeDir: string;
  readonly port?: number;
  readonly binary?: string;
  /** Extra configuration appended to the generated file (e.g. TLS, accounts). */
  readonly extraConfig?: string;
  /** When set, an unexpected exit (crash, SIGKILL) is reported here and the server started again. */
  readonly onExit?: (how: string) => void;
  /** Told when a server that exited runs again. */
  readonly onRestarted?: () => void;
  /** The server's name (unique in a cluster); default `elfe-local-<port>`. */
  readonly serverName?: string;
}

const reaper = path.join(repoRoot, 'bin', 'reaper.js');

const readPid = (file: string): number | undefined => {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

const isNatsServer = (pid: number, config: string): boolean => {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('nats-server') && cmdline.includes(config);
  } catch {
    return false;
  }
};

/**
 * A nats-server left behind on this store by a killed parent: stopped before a new one starts,
 * so that two servers never share a store directory.
 */
async function stopStaleServer(pidFile: string, config: string): Promise<number | undefined> {
  const pid = readPid(pidFile);
  if (pid === undefined || !isNatsServer(pid, config)) return undefined;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (isNatsServer(pid, config) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pid;
}

export async function startLocalNatsServer(options: LocalNatsServerOptions): Promise<LocalNatsServer> {
  const binary = options.binary ?? findNatsServer();
  if (!binary) throw new Error('nats-server >= 2.10 not found: run scripts/setup.sh, or set ELFE_NATS_SERVER');
  const port = options.port ?? (await freePort());
  mkdirSync(options.storeDir, { recursive: true });
  const config = path.join(options.storeDir, 'nats-server.conf');
  const pidFile = path.join(options.storeDir, 'nats-server.pid');
  const writeConfig = (extra: string) => writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `server_name: ${options.serverName ?? `elfe-local-${port}`}`,
      `pid_file: ${JSON.stringify(pidFile)}`,
      'max_payload: 1MB',
      'jetstream {',
      `  store_dir: ${JSON.stringify(path.join(options.storeDir, 'jetstream'))}`,
      '  sync_interval: always',
      '}',
      extra,
    ].join('\n'),
  );
  writeConfig(options.extraConfig ?? '');
  let child: ChildProcess;
  let stopping = false;
  const launch = async () => {
    await stopStaleServer(pidFile, config);
    // A port another process holds would answer the readiness probe below for a server that
    // never started (and the parties would talk to that other process): refused up front.
    if (!(await portFree(port))) throw new PortInUseError(port);
    // Through the reaper: the server ends with this process, however this process ends.
    child = spawn(process.execPath, [reaper, binary, '-c', config], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    try {
      await waitForPort(port, child, 15_000);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n${stderr}`);
    }
    const started = child;
    started.once('exit', (code, signal) => {
      if (stopping || started !== child || !options.onExit) return;
      options.onExit(`code ${code}, signal ${signal}`);
      const again = async () => {
        for (let attempt = 1; !stopping; attempt++) {
          try {
            await launch();
            options.onRestarted?.();
            return;
          } catch (error) {
            options.onExit?.(`restart attempt ${attempt} failed: ${(error as Error).message.split('\n')[0]}`);
            await pause(backoffMs(attempt, { baseMs: 200, maxMs: 5000 }));
          }
        }
      };
      void again();
    });
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pid = readPid(pidFile);
    if (signal === 'SIGKILL' && pid !== undefined && isNatsServer(pid, config)) process.kill(pid, 'SIGKILL');
    else child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: () => readPid(pidFile),
    storeDir: options.storeDir,
    async stop() {
      stopping = true;
      await stopWith('SIGTERM');
    },
    async kill() {
      stopping = true;
      await stopWith('SIGKILL');
    },
    async restart() {
      stopping = true;
      await stopWith('SIGTERM');
      stopping = false;
      await launch();
    },
    async reconfigure(extraConfig: string) {
      writeConfig(extraConfig);
      const pid = readPid(pidFile);
      if (pid !== undefined) process.kill(pid, 'SIGHUP');
      // The server applies a reload asynchronously; give it a moment before relying on it.
      await new Promise((r) => setTimeout(r, 300));
    },
  };
}

// Connections per certificate on the hub's own nats-server. nats-server 2.10 has no per-user
// connection limit in a static user list (only per account, and every party shares the one
// account with the hub's streams), so the hub enforces it: it counts each user's connections
// on the server's local monitoring endpoint (`/connz?auth=true`, 127.0.0.1 only) and a
// certificate holding more than the limit loses its user for a while (the reload closes all
// its connections and refuses new ones), then gets it back. The hub's own users are exempt.
export interface ConnectionLimiterOptions {
  /** `http://127.0.0.1:<port>` of the nats-server's monitoring endpoint. */
  readonly monitorUrl: string;
  readonly maxPerCertificate: number;
  readonly blockMs: number;
  /** Users never blocked (the hub's own). */
  readonly exempt: (user: string) => boolean;
  /** The blocked set changed: regenerate and reload the users. */
  readonly onChange: () => void;
  readonly onBlocked: (user: string, connections: number) => void;
  readonly onReleased?: (user: string) => void;
  readonly now?: () => number;
}

export interface ConnectionLimiter {
  /** NATS users (a certificate's e-mail SAN) without a user for now. */
  readonly blocked: ReadonlySet<string>;
  readonly stats: { blocks: number };
  /** One round: count, block, release; throws when the connections cannot be counted. The hub runs it as a loop of its lifecycle. */
  check(): Promise<void>;
}

interface Connz {
  readonly connections?: readonly { readonly authorized_user?: string }[];
}

export function connectionLimiter(options: ConnectionLimiterOptions): ConnectionLimiter {
  const now = options.now ?? Date.now;
  const until = new Map<string, number>();
  const blocked = new Set<string>();
  const stats = { blocks: 0 };
  let running = false;
  const check = async () => {
    if (running) return;
    running = true;
    try {
      let changed = false;
      for (const [user, end] of until) {
        if (now() < end) continue;
        until.delete(user);
        blocked.delete(user);
        options.onReleased?.(user);
        changed = true;
      }
      const response = await fetch(`${options.monitorUrl}/connz?auth=true&limit=100000`, { signal: AbortSignal.timeout(2000) });
      const connz = (await response.json()) as Connz;
      const counts = new Map<string, number>();
      for (const c of connz.connections ?? []) {
        if (c.authorized_user) counts.set(c.authorized_user, (counts.get(c.authorized_user) ?? 0) + 1);
      }
      for (const [user, n] of counts) {
        if (n <= options.maxPerCertificate || blocked.has(user) || options.exempt(user)) continue;
        blocked.add(user);
        until.set(user, now() + options.blockMs);
        stats.blocks++;
        options.onBlocked(user, n);
        changed = true;
      }
      if (changed) options.onChange();
    } finally {
      running = false;
    }
  };
  return { blocked, stats, check };
}
