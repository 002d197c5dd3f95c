// Tamper tests on a real SQLite file: change one byte, delete an entry, swap two, insert one.
// The auditor's replay must fail and name the first bad position; an untouched log verifies.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, parseVerifierKey, type NoteVerifier } from '../../contracts/index.ts';
import { verifyLog } from '../../hub/src/audit/verifyLog.ts';
import { newEvent } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { checkpointStream } from '../../hub/src/log/streams.ts';
import { repoRoot } from '../support/fixtures.ts';
import { prng } from '../../hub/src/demo/synthetic.ts';

const entries = 400;
let pristine = '';
let verifier: NoteVerifier;

/** A fresh copy of the untouched log, for one tamper trial. */
function copyOfLog(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-tamper-'));
  const from = logFiles(pristine);
  copyFileSync(from.events, logFiles(dir).events);
  copyFileSync(from.tree, logFiles(dir).tree);
  copyFileSync(from.hubKey, logFiles(dir).hubKey);
  return dir;
}

async function audit(dir: string, { withTree = true } = {}) {
  const store = openSqliteEventStore(logFiles(dir).events);
  try {
    return await verifyLog(store, verifier, { treeFile: withTree ? logFiles(dir).tree : path.join(dir, 'no-tree.sqlite') });
  } finally {
    await store.close();
  }
}

function edit(dir: string, change: (db: Database.Database) => void): void {
  const db = new Database(logFiles(dir).events);
  change(db);
  db.close();
}

const random = prng(6962);
const pick = (below: number) => Math.floor(random() * below);

/** A random entry that is not a checkpoint (a checkpoint edit is a `bad-checkpoint`). */
function pickEntry(dir: string): number {
  const db = new Database(logFiles(dir).events, { readonly: true });
  const positions = (db.prepare('SELECT position FROM events WHERE stream <> ? ORDER BY position').all(checkpointStream) as { position: number }[]).map((r) => r.position);
  db.close();
  return positions[pick(positions.length)]!;
}

async function sizeOf(dir: string): Promise<number> {
  const store = openSqliteEventStore(logFiles(dir).events);
  return store.size().finally(() => store.close());
}

/** The size signed by the last checkpoint that does not cover `position` (0 if none). */
function lastCheckpointSizeBelow(dir: string, position: number): number {
  const db = new Database(logFiles(dir).events, { readonly: true });
  const sizes = (db.prepare('SELECT data FROM events WHERE stream = ?').all(checkpointStream) as { data: string }[]).map((r) => (JSON.parse(r.data) as { data: { treeSize: number } }).data.treeSize);
  db.close();
  return Math.max(0, ...sizes.filter((size) => size <= position));
}

beforeAll(async () => {
  pristine = mkdtempSync(path.join(os.tmpdir(), 'elfe-pristine-'));
  const log = await openHubLog({ dataDir: pristine, checkpoint: { everyEntries: 50, everyMs: 0 } });
  for (let i = 0; i < entries; i++) await log.append(`birth-${i % 23}`, [newEvent('BirthRegistered', { i, child: { firstNames: ['Zoë'], familyName: 'Łukasiewicz' } })]);
  await log.checkpointNow();
  const v = parseVerifierKey(log.verifierKey);
  if (!v.success) throw v.error;
  verifier = v.data;
  await log.close();
});

describe('tamper evidence on a real SQLite file', () => {
  it('an untouched log verifies', async () => {
    const report = await audit(copyOfLog());
    expect(report).toMatchObject({ ok: true, firstBadPosition: null, checkpoints: 9, uncovered: 0 });
    expect(report.entries).toBe(entries + 9);
  });

  it('changing one byte of one entry names that entry', async () => {
    for (let trial = 0; trial < 25; trial++) {
      const dir = copyOfLog();
      const position = pick(entries);
      edit(dir, (db) => {
        const row = db.prepare('SELECT data FROM events WHERE position = ?').get(position) as { data: string };
        // Flip one digit or letter inside the JSON so that it stays valid JSON.
        const at = row.data.search(/[0-9a-zA-Z]/);
        const ch = row.data[at]!;
        const flipped = /[0-9]/.test(ch) ? String((Number(ch) + 1) % 10) : ch === 'a' ? 'b' : 'a';
        db.prepare('UPDATE events SET data = ? WHERE position = ?').run(row.data.slice(0, at) + flipped + row.data.slice(at + 1), position);
      });
      const report = await audit(dir);
      expect(report.ok, `byte changed at ${position}`).toBe(false);
      expect(report.firstBadPosition).toBe(position);
    }
  });

  it('deleting an entry names its position', async () => {
    for (let trial = 0; trial < 15; trial++) {
      const dir = copyOfLog();
      const position = pick(entries);
      edit(dir, (db) => db.prepare('DELETE FROM events WHERE position = ?').run(position));
      const report = await audit(dir);
      expect(report.ok).toBe(false);
      expect(report.firstBadPosition).toBe(position);
    }
  });

  it('swapping two entries names the earlier one', async () => {
    for (let trial = 0; trial < 15; trial++) {
      const dir = copyOfLog();
      const a = pick(entries);
      const b = (a + 1 + pick(entries - 1)) % entries;
      edit(dir, (db) => {
        const row = db.prepare('SELECT stream, stream_revision, event_id, type, data, metadata, recorded_at FROM events WHERE position = ?');
        const ra = row.get(a) as Record<string, unknown>;
        const rb = row.get(b) as Record<string, unknown>;
        const put = db.prepare('UPDATE events SET stream = ?, stream_revision = ?, event_id = ?, type = ?, data = ?, metadata = ?, recorded_at = ? WHERE position = ?');
        db.transaction(() => {
          db.prepare('UPDATE events SET event_id = event_id || ?, stream_revision = stream_revision + 100000 WHERE position IN (?, ?)').run('-x', a, b);
          put.run(rb.stream, rb.stream_revision, rb.event_id, rb.type, rb.data, rb.metadata, rb.recorded_at, a);
          put.run(ra.stream, ra.stream_revision, ra.event_id, ra.type, ra.data, ra.metadata, ra.recorded_at, b);
        })();
      });
      const report = await audit(dir);
      expect(report.ok).toBe(false);
      expect(report.firstBadPosition).toBe(Math.min(a, b));
    }
  });

  it('inserting an entry (shifting the rest) names its position', async () => {
    for (let trial = 0; trial < 10; trial++) {
      const dir = copyOfLog();
      const position = pick(entries);
      edit(dir, (db) => {
        db.transaction(() => {
          db.prepare('UPDATE events SET position = -position - 1 WHERE position >= ?').run(position);
          db.prepare('UPDATE events SET position = -position WHERE position < 0').run();
          db.prepare("INSERT INTO events VALUES (?, 'birth-0', 999, 'forged-id', 'BirthRegistered', '{\"forged\":true}', '{}', '2026-11-24T00:00:00.000Z')").run(position);
        })();
      });
      const report = await audit(dir);
      expect(report.ok).toBe(false);
      expect(report.firstBadPosition).toBe(position);
    }
  });

  // An operator with write access to the database edits one entry's stored JSON. The checkpoints
  // sign the stored bytes, so even the same value in another serialisation is an alteration.
  const reverseKeys = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(reverseKeys) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)])) : value;
  const edits: [string, 'data' | 'metadata', (json: string) => string][] = [
    ['another value', 'data', (json) => canonicalJson({ ...(JSON.parse(json) as object), i: -1 })],
    ['the same value, keys in another order', 'data', (json) => JSON.stringify(reverseKeys(JSON.parse(json)))],
    ['the same value, with whitespace', 'data', (json) => JSON.stringify(JSON.parse(json), null, 1)],
    ['the same metadata, with whitespace', 'metadata', (json) => JSON.stringify(JSON.parse(json), null, 1)],
  ];

  it.each(edits)('an operator who stores %s in the %s column is caught at that entry', async (how, column, change) => {
    for (let trial = 0; trial < 8; trial++) {
      const dir = copyOfLog();
      const position = pickEntry(dir);
      edit(dir, (db) => {
        const row = db.prepare(`SELECT ${column} AS json FROM events WHERE position = ?`).get(position) as { json: string };
        const changed = change(row.json);
        expect(changed).not.toBe(row.json);
        db.prepare(`UPDATE events SET ${column} = ? WHERE position = ?`).run(changed, position);
      });
      expect(await audit(dir), `${column} edited at ${position}, with the tree file`).toMatchObject({ ok: false, code: 'altered', firstBadPosition: position });
      // Without the tree file, stored text that is not canonical gives itself away; a canonical one with
      // another value is located only to the first entry the last good checkpoint does not cover.
      const withoutTree = how === 'another value' ? lastCheckpointSizeBelow(dir, position) : position;
      expect(await audit(dir, { withTree: false }), `${column} edited at ${position}, without the tree file`).toMatchObject({ ok: false, code: 'altered', firstBadPosition: withoutTree });
    }
  });

  it('names the changed entry in a log of several blocks of 1024 leaves', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-tamper-blocks-'));
    const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: 700, everyMs: 0 } });
    for (let i = 0; i < 3000; i += 100) await log.append(`birth-${i % 7}`, Array.from({ length: 100 }, (_, k) => newEvent('BirthRegistered', { i: i + k })));
    await log.checkpointNow();
    const v = parseVerifierKey(log.verifierKey);
    if (!v.success) throw v.error;
    await log.close();
    // The last entry before the final checkpoint, in the last, incomplete block.
    const lastEntry = (await sizeOf(dir)) - 2;
    for (const position of [1500, 2100, lastEntry]) {
      const trial = mkdtempSync(path.join(os.tmpdir(), 'elfe-tamper-blocks-'));
      for (const file of ['events', 'tree', 'hubKey'] as const) copyFileSync(logFiles(dir)[file], logFiles(trial)[file]);
      edit(trial, (db) => expect(db.prepare("UPDATE events SET data = replace(data, '\"i\":', '\"i\": ') WHERE position = ? AND data LIKE '%\"i\":%'").run(position).changes).toBe(1));
      const store = openSqliteEventStore(logFiles(trial).events);
      const report = await verifyLog(store, v.data, { treeFile: logFiles(trial).tree }).finally(() => store.close());
      expect(report, `edited at ${position}`).toMatchObject({ ok: false, code: 'altered', firstBadPosition: position });
    }
  });

  it('a log written before canonical text verifies by value, keeps growing, and still names a changed value', async () => {
    const dir = copyOfLog();
    // What an older version left behind: JSON.stringify text (insertion order), user_version 0.
    edit(dir, (db) => {
      db.pragma('user_version = 0');
      const rows = db.prepare('SELECT position, data FROM events WHERE stream <> ?').all(checkpointStream) as { position: number; data: string }[];
      const put = db.prepare('UPDATE events SET data = ? WHERE position = ?');
      db.transaction(() => rows.forEach((r) => put.run(JSON.stringify(reverseKeys(JSON.parse(r.data))), r.position)))();
    });
    expect(await audit(dir)).toMatchObject({ ok: true, entries: entries + 9 });
    const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: 50, everyMs: 0 } });
    for (let i = 0; i < 60; i++) await log.append(`birth-${i % 23}`, [newEvent('BirthRegistered', { i: entries + i })]);
    await log.checkpointNow();
    await log.close();
    expect(await audit(dir)).toMatchObject({ ok: true, entries: entries + 9 + 60 + 2 });
    const position = pickEntry(dir);
    edit(dir, (db) => {
      const row = db.prepare('SELECT data FROM events WHERE position = ?').get(position) as { data: string };
      db.prepare('UPDATE events SET data = ? WHERE position = ?').run(JSON.stringify({ ...(JSON.parse(row.data) as object), i: -1 }), position);
    });
    expect(await audit(dir)).toMatchObject({ ok: false, code: 'altered', firstBadPosition: position });
  });

  it('elfe audit verify --json reports the same, with exit 1', () => {
    const dir = copyOfLog();
    edit(dir, (db) => db.prepare('DELETE FROM events WHERE position = 123').run());
    const run = spawnSync(process.execPath, [path.join(repoRoot, 'bin/elfe.js'), 'audit', 'verify', '--data', dir, '--json'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, firstBadPosition: 123, entries: 123 });
    const intact = spawnSync(process.execPath, [path.join(repoRoot, 'bin/elfe.js'), 'audit', 'verify', '--data', copyOfLog(), '--json'], { encoding: 'utf8' });
    expect(intact.status).toBe(0);
    expect(JSON.parse(intact.stdout)).toEqual({ ok: true, entries: entries + 9, checkpoints: 9, firstBadPosition: null, reason: null });
  });
});
