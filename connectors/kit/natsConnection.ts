// Connecting to the hub's NATS at start-up: a bounded, reported retry instead of an
// unhandled exception when the server is not up yet (or restarting), then the client's own
// reconnect for the rest of the process's life.
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { backoffMs, pause } from './lifecycle.ts';

export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly code = 'dependency-unavailable';
}

/** The servers of a NATS URL setting: one URL, a comma-separated list (the nodes of a cluster), or an array. */
export function natsServerList(servers: string | readonly string[]): string[] {
  return (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim()).filter((s) => s.length > 0);
}

export async function connectWithRetry(options: ConnectionOptions & { servers: string | readonly string[] }, report: (line: string) => void, timeoutSeconds = 60): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const servers = natsServerList(options.servers);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, ...options, servers });
    } catch (error) {
      const reason = (error as Error).message;
      if (Date.now() >= deadline) throw new StartupError(`NATS at ${options.servers} unreachable for ${timeoutSeconds} s (last: ${reason})`, { cause: error });
      report(`waiting for NATS at ${options.servers} (attempt ${attempt}: ${reason})`);
      await pause(backoffMs(attempt, { baseMs: 100, maxMs: 2000 }));
    }
  }
}
