// The hub's log on embedded defaults: SQLite in the data directory, the Merkle tree beside
// it, the hub key created on first start, checkpoints every N entries or T milliseconds.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseWitnessVerifierKey } from '../../../contracts/index.ts';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';
import { ensurePrivateDir } from './privateFiles.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';
import { openPostgresEventStore } from './postgres/postgresEventStore.ts';
import type { EventStore } from './eventStore.ts';
import { historyFiles, TransparentLog, type CheckpointPolicy } from './transparentLog.ts';
import { CosignatureStore, Witnessing, type WitnessEndpoint } from '../witness/witnessing.ts';
import type { Component } from '../../../connectors/kit/lifecycle.ts';

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
  /** Where failed periodic checkpoints are reported. */
  readonly component?: Component;
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
  ...historyFiles(dataDir),
});

export async function openHubLog(options: HubLogOptions): Promise<TransparentLog> {
  ensurePrivateDir(options.dataDir);
  const files = logFiles(options.dataDir);
  const hubKey = loadOrCreateHubKey(options.dataDir, options.hubKeyFile);
  const store = await openHubEventStore(options.dataDir, options.store, { ...(options.now ? { now: options.now } : {}), ...(options.fence ? { fence: options.fence } : {}), ...(options.log ? { log: options.log } : {}) });
  const cosignatures = options.witnesses && options.witnesses.length > 0 ? new CosignatureStore(files.cosignatures) : undefined;
  const witnessing = cosignatures
    ? new Witnessing({ witnesses: options.witnesses!, store: cosignatures, ...(options.log ? { log: options.log } : {}), ...(options.now ? { now: options.now } : {}) })
    : undefined;
  // What the witnesses cosigned counts as signed: a log shorter than that does not start either.
  const witnessSizes = (options.witnesses ?? []).flatMap((w) => {
    const key = parseWitnessVerifierKey(w.verifierKey);
    const size = key.success ? cosignatures?.lastCosignedSize(key.data.name) : undefined;
    return key.success && size !== undefined ? [{ witness: key.data.name, size }] : [];
  });
  let log: TransparentLog;
  try {
    log = await TransparentLog.open(store, {
      treeFile: files.tree,
      hubKey,
      origin: options.origin ?? defaultOrigin,
      checkpoint: options.checkpoint ?? defaultCheckpointPolicy,
      history: { files: historyFiles(options.dataDir), witnessSizes, log: options.log ?? ((line) => process.stderr.write(`${line}\n`)) },
      ...(options.now ? { now: options.now } : {}),
      ...(witnessing ? { observer: witnessing } : {}),
      ...(options.component ? { component: options.component } : {}),
    });
  } catch (error) {
    // A refused open leaves nothing open (the SQLite writer thread included).
    await witnessing?.close().catch(() => undefined);
    cosignatures?.close();
    await store.close().catch(() => undefined);
    throw error;
  }
  // After a restart, the latest checkpoint may not have reached the witnesses yet.
  const latest = log.latestCheckpoint();
  if (witnessing && latest) witnessing.checkpointed(latest, log);
  return log;
}

/** Whether a hub process holds the data directory's lock (`hub.lock`, see dataDirLock.ts). */
function hubRunning(dataDir: string): boolean {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'hub.lock'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The SQLite log of `dataDir` opened for an audit: its files (log, tree, their WAL) are copied
 * to a private temporary directory and opened there, so that nothing in the data directory is
 * written (SQLite writes a WAL database's -shm even to read it); while a hub runs, a snapshot is
 * taken with SQLite's backup instead. No history check, no checkpoints.
 * `close()` removes the copy.
 */
export async function inspectHubLog(dataDir: string): Promise<TransparentLog> {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'elfe-audit-'));
  const from = logFiles(dataDir);
  const to = logFiles(copy);
  try {
    const running = hubRunning(dataDir);
    for (const file of ['events', 'tree'] as const) {
      if (!existsSync(from[file])) continue;
      if (running) {
        // A running hub writes meanwhile: a consistent snapshot through SQLite's backup (its -shm is the hub's anyway).
        const source = new Database(from[file], { readonly: true, fileMustExist: true });
        try {
          await source.backup(to[file]);
        } finally {
          source.close();
        }
        continue;
      }
      // No hub: the files as they lie, WAL included; nothing of the data directory is opened.
      for (const suffix of ['', '-wal']) {
        if (existsSync(from[file] + suffix)) copyFileSync(from[file] + suffix, to[file] + suffix, fsConstants.COPYFILE_FICLONE);
      }
    }
    const hubKey = existsSync(from.hubKey) ? from.hubKey : undefined;
    const key = loadOrCreateHubKey(copy, hubKey);
    const store = openSqliteEventStore(to.events);
    const log = await TransparentLog.open(store, { treeFile: to.tree, hubKey: key, origin: defaultOrigin, checkpoint: { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 }, inspect: true }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    const close = log.close.bind(log);
    Object.defineProperty(log, 'close', { value: () => close().finally(() => rmSync(copy, { recursive: true, force: true })) });
    return log;
  } catch (error) {
    rmSync(copy, { recursive: true, force: true });
    throw error;
  }
}
