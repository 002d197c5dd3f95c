// The hub's log on embedded defaults: SQLite in the data directory, the Merkle tree beside
// it, the hub key created on first start, checkpoints every N entries or T milliseconds.
import path from 'node:path';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';
import { ensurePrivateDir } from './privateFiles.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';
import { openPostgresEventStore } from './postgres/postgresEventStore.ts';
import type { EventStore } from './eventStore.ts';
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
  /** The event store: SQLite in the data directory (default) or PostgreSQL; the tree stays local either way. */
  readonly store?: HubLogStore;
  /** With PostgreSQL: the lease epoch every append is fenced on (see postgresLease.ts). */
  readonly fence?: () => number | undefined;
}

export type HubLogStore =
  | { readonly kind: 'sqlite' }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema?: string; readonly poolSize?: number; readonly synchronousCommit?: 'on' | 'remote_apply' };

/** Opens the configured event store alone (the CLI's audit reads it this way). */
export async function openHubEventStore(dataDir: string, store: HubLogStore = { kind: 'sqlite' }, extra: { now?: () => Date; fence?: () => number | undefined; log?: (line: string) => void } = {}): Promise<EventStore> {
  if (store.kind === 'sqlite') return openSqliteEventStore(logFiles(dataDir).events, extra.now ? { now: extra.now } : {});
  return openPostgresEventStore({
    url: store.url,
    ...(store.schema ? { schema: store.schema } : {}),
    ...(store.poolSize ? { poolSize: store.poolSize } : {}),
    ...(store.synchronousCommit ? { synchronousCommit: store.synchronousCommit } : {}),
    ...(extra.now ? { now: extra.now } : {}),
    ...(extra.fence ? { fence: extra.fence } : {}),
    ...(extra.log ? { onError: (e: Error) => extra.log!(`postgres event store: ${e.message}`) } : {}),
  });
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
  const store = await openHubEventStore(options.dataDir, options.store, { ...(options.now ? { now: options.now } : {}), ...(options.fence ? { fence: options.fence } : {}), ...(options.log ? { log: options.log } : {}) });
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
