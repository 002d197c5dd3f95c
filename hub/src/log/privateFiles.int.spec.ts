// The log's files are the owner's alone whatever the umask: run under umask 0, where every
// mode the code does not set explicitly would come out world-readable.
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEvent } from './conformance/eventStoreConformance.ts';
import { logFiles, openHubLog } from './openHubLog.ts';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('files of the transparent log under umask 0', () => {
  let saved: number;
  beforeAll(() => {
    saved = process.umask(0);
  });
  afterAll(() => {
    process.umask(saved);
  });

  it('creates the data directories 0700 and the SQLite log and Merkle tree (with -wal/-shm) 0600', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'elfe-modes-'));
    const dataDir = path.join(base, 'data', 'hub');
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 } });
    for (let i = 0; i < 5; i++) await log.append('case-1', [newEvent('E', { i })]);
    await log.checkpointNow();

    expect(mode(path.join(base, 'data'))).toBe('700');
    expect(mode(dataDir)).toBe('700');
    const files = logFiles(dataDir);
    const written = [files.events, `${files.events}-wal`, `${files.events}-shm`, files.tree, `${files.tree}-wal`, `${files.tree}-shm`];
    for (const file of written) {
      expect(existsSync(file), file).toBe(true);
      expect([path.basename(file), mode(file)]).toEqual([path.basename(file), '600']);
    }
    await log.close();
  });
});
