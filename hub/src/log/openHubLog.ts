// The hub's log on embedded defaults: SQLite in the data directory, the Merkle tree beside
// it, the hub key created on first start, checkpoints every N entries or T milliseconds.
import path from 'node:path';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';
import { ensurePrivateDir } from './privateFiles.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';
import { TransparentLog, type CheckpointPolicy } from './transparentLog.ts';

export interface HubLogOptions {
  readonly dataDir: string;
  readonly checkpoint?: CheckpointPolicy;
  /** Checkpoint origin / signed-note key name. */
  readonly origin?: string;
  /** A configured hub key file; default `<dataDir>/hub.key.pem`, created on first start. */
  readonly hubKeyFile?: string;
  readonly now?: () => Date;
}

export const defaultOrigin = 'elfe-hub/log';
export const defaultCheckpointPolicy: CheckpointPolicy = { everyEntries: 1000, everyMs: 5000 };

export const logFiles = (dataDir: string) => ({
  events: path.join(dataDir, 'log.sqlite'),
  tree: path.join(dataDir, 'tree.sqlite'),
  hubKey: path.join(dataDir, 'hub.key.pem'),
});

export async function openHubLog(options: HubLogOptions): Promise<TransparentLog> {
  ensurePrivateDir(options.dataDir);
  const files = logFiles(options.dataDir);
  const hubKey = loadOrCreateHubKey(options.dataDir, options.hubKeyFile);
  const store = openSqliteEventStore(files.events, options.now ? { now: options.now } : {});
  return TransparentLog.open(store, {
    treeFile: files.tree,
    hubKey,
    origin: options.origin ?? defaultOrigin,
    checkpoint: options.checkpoint ?? defaultCheckpointPolicy,
    ...(options.now ? { now: options.now } : {}),
  });
}
