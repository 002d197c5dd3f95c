// kill -9 during appends: every append acknowledged before the kill is in the file, and the
// global order has no gaps; every case begun before the kill still has its key.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { isSealed, openCaseLog } from '../../hub/src/log/caseLog.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { repoRoot } from '../support/fixtures.ts';

async function appendUntilKilled(file: string, acknowledgements: number, script = 'crashAppender.ts', extra: string[] = []): Promise<string[]> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/run-ts.js'), path.join(repoRoot, 'tests/support', script), file, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: string[] = [];
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      acked.push(...lines);
      if (acked.length >= acknowledgements && child.exitCode === null) {
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => resolve());
    child.on('error', reject);
  });
  return acked;
}

describe('SQLite log after kill -9', () => {
  it('loses no acknowledged append and keeps positions gap-free', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-crash-')), 'log.sqlite');
    const first = await appendUntilKilled(file, 3000);
    const second = await appendUntilKilled(file, 6000);
    const store = openSqliteEventStore(file);
    try {
      const all = await collect(store.readAll());
      const ids = new Set(all.map((e) => e.eventId));
      expect([...first, ...second].filter((id) => !ids.has(id))).toEqual([]);
      expect(all.map((e) => e.position)).toEqual(all.map((_, i) => i));
      expect(await store.size()).toBe(all.length);
    } finally {
      await store.close();
    }
  });
});

describe('case keys after kill -9', () => {
  it('keeps the key of every case whose first entry was acknowledged: each one still opens', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-keycrash-'));
    const first = await appendUntilKilled(dir, 400, 'caseCrashAppender.ts', ['1']);
    const second = await appendUntilKilled(dir, 800, 'caseCrashAppender.ts', ['2']);
    const log = openCaseLog(openSqliteEventStore(path.join(dir, 'log.sqlite')), dir);
    try {
      const unreadable: string[] = [];
      for (const stream of [...first, ...second]) {
        const entries = await collect(log.readStream(stream));
        if (entries.length !== 1 || isSealed(entries[0]!.data) || (entries[0]!.data as { name?: string }).name !== 'Zoë Ørsted') unreadable.push(stream);
      }
      expect(first.length + second.length).toBeGreaterThanOrEqual(1200);
      expect(unreadable).toEqual([]);
    } finally {
      await log.close();
    }
  });
});
