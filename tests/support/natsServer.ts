// A real nats-server with JetStream for the tests, in a temporary directory on a free port.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findNatsServer, startLocalNatsServer, type LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';

export const natsBinary = findNatsServer();
export const natsAvailable = natsBinary !== undefined;
export const natsSkipReason = 'nats-server >= 2.10 not found; run scripts/setup.sh (or set ELFE_NATS_SERVER)';
if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

export function startTestNatsServer(): Promise<LocalNatsServer> {
  return startLocalNatsServer({ storeDir: mkdtempSync(path.join(os.tmpdir(), 'elfe-nats-')), ...(natsBinary ? { binary: natsBinary } : {}) });
}
