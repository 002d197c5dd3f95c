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

/**
 * The options every party connects with: reconnect for ever, and no async traces. With traces
 * on, the client captures a stack trace (an Error) for each request it sends, and a JetStream
 * publish is one: for the hub's deliveries and the connectors' receipts that is one or two
 * Errors built per message that nobody reads. A failed request still fails with its message
 * (timeout, no responders); its stack then ends in the client instead of at the call.
 */
export function natsConnectOptions(options: ConnectionOptions & { servers: string | readonly string[] }): ConnectionOptions {
  return { maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true, ...options, servers: natsServerList(options.servers) };
}

export async function connectWithRetry(options: ConnectionOptions & { servers: string | readonly string[] }, report: (line: string) => void, timeoutSeconds = 60): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const connectOptions = natsConnectOptions(options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(connectOptions);
    } catch (error) {
      const reason = (error as Error).message;
      if (Date.now() >= deadline) throw new StartupError(`NATS at ${options.servers} unreachable for ${timeoutSeconds} s (last: ${reason})`, { cause: error });
      report(`waiting for NATS at ${options.servers} (attempt ${attempt}: ${reason})`);
      await pause(backoffMs(attempt, { baseMs: 100, maxMs: 2000 }));
    }
  }
}

/**
 * A warning when the connection's nats-server is part of a cluster and older than 2.11: there a
 * publish whose stream leader dies can be retried with the same Nats-Msg-Id, answered as a
 * duplicate and yet never stored (nats-server PR 6415, fixed in 2.11), which loses the message.
 */
export function clusterVersionWarning(info: { version?: string; cluster?: string } | undefined): string | undefined {
  if (!info?.cluster || !info.version) return undefined;
  const [major = 0, minor = 0] = info.version.split('.').map((n) => Number.parseInt(n, 10));
  if (major > 2 || (major === 2 && minor >= 11)) return undefined;
  return `nats-server ${info.version} runs in cluster ${info.cluster}: below 2.11 a publish retried after a stream leader died can be taken as a duplicate and lost; upgrade every node to >= 2.11`;
}
