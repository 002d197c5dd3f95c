// The hub's log on embedded defaults: SQLite in the data directory, the Merkle tree beside
// it, the hub key created on first start, checkpoints every N entries or T milliseconds.
import path from 'node:path';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';
import { ensurePrivateDir } from './privateFiles.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';
import { TransparentLog, type CheckpointPolicy } from './transparentLog.ts';
import { CosignatureStore } from '../witness/cosignatureStore.ts';
import type { WitnessEndpoint } from '../witness/witnessClient.ts';
import { Witnessing } from '../witness/witnessing.ts';

export interface HubLogOptions {
  readonly dataDir: string;
  readonly checkpoint?: CheckpointPolicy;
  /** Checkpoint origin / signed-note key name. */
  readonly origin?: string;
  /** A configured hub key file; default `<dataDir>/hub.key.pem`, created on first start. */
  readonly hubKeyFile?: string;
  readonly now?: () => Date;
  /** Witnesses asked to cosign every checkpoint (C2SP tlog-witness); none by default. */
  readonly witnesses?: readonly WitnessEndpoint[];
  /** Where witness refusals are reported (default: stderr). */
  readonly log?: (line: string) => void;
}

export const defaultOrigin = 'elfe-hub/log';
export const defaultCheckpointPolicy: CheckpointPolicy = { everyEntries: 1000, everyMs: 5000 };

export const logFiles = (dataDir: string) => ({
  events: path.join(dataDir, 'log.sqlite'),
  tree: path.join(dataDir, 'tree.sqlite'),
  hubKey: path.join(dataDir, 'hub.key.pem'),
  cosignatures: path.join(dataDir, 'cosignatures.sqlite'),
});

export async function openHubLog(options: HubLogOptions): Promise<TransparentLog> {
  ensurePrivateDir(options.dataDir);
  const files = logFiles(options.dataDir);
  const hubKey = loadOrCreateHubKey(options.dataDir, options.hubKeyFile);
  const store = openSqliteEventStore(files.events, options.now ? { now: options.now } : {});
  const witnessing =
    options.witnesses && options.witnesses.length > 0
      ? new Witnessing({ witnesses: options.witnesses, store: new CosignatureStore(files.cosignatures), ...(options.log ? { log: options.log } : {}), ...(options.now ? { now: options.now } : {}) })
      : undefined;
  const log = await TransparentLog.open(store, {
    treeFile: files.tree,
    hubKey,
    origin: options.origin ?? defaultOrigin,
    checkpoint: options.checkpoint ?? defaultCheckpointPolicy,
    ...(options.now ? { now: options.now } : {}),
    ...(witnessing ? { observer: witnessing } : {}),
  });
  // After a restart, the latest checkpoint may not have reached the witnesses yet.
  const latest = log.latestCheckpoint();
  if (witnessing && latest) witnessing.checkpointed(latest, log);
  return log;
}
