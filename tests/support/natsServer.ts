// A real nats-server with JetStream for the tests, in a temporary directory on a free port.
import { mkdtempSync } from 'node:fs';
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
