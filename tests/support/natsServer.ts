// A real nats-server with JetStream for the tests, in a temporary directory on a free port.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { findNatsServer, startLocalNatsServer, type LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';

export const natsBinary = findNatsServer();
export const natsAvailable = natsBinary !== undefined;
export const natsSkipReason = 'nats-server >= 2.10 not found; run scripts/setup.sh (or set ELFE_NATS_SERVER)';
if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

export function startTestNatsServer(): Promise<LocalNatsServer> {
  return startLocalNatsServer({ storeDir: mkdtempSync(path.join(os.tmpdir(), 'elfe-nats-')), ...(natsBinary ? { binary: natsBinary } : {}) });
}

export interface TestNats {
  readonly server: LocalNatsServer;
  /** A connection of the test itself, the exchange's streams created. */
  readonly nc: NatsConnection;
}

/** A nats-server with the exchange's streams for the tests of the enclosing describe block: started before them, stopped after. */
export function natsWithStreams(): TestNats {
  let server: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startTestNatsServer();
    nc = await connect({ servers: server.url });
    await ensureStreams(await jetstreamManager(nc));
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test nats-server is started in beforeAll: use it inside a test');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get nc() {
      return started(nc);
    },
  };
}

/**
 * A base port for `elfe cluster nats --base-port P` (clients P..P+n-1, routes P+100..P+100+n-1)
 * below the kernel's ephemeral range (32768–60999 here), where no outgoing connection and no
 * `freePort()` of a test running beside it can take one of those ports between the choice and
 * the nodes' start; every port is checked free when chosen.
 */
export async function clusterBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: nodes }, (_, i) => [base + i, base + 100 + i]).flat();
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports below the ephemeral range for a test cluster');
}

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
