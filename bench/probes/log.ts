// Log-only figures: appends per second with durability on (through the transparent log, and
// raw better-sqlite3 at the same durability), audit replay, proofs, restart.
import Database from 'better-sqlite3';
import { createHash, generateKeyPairSync, hash, randomUUID, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { leafHash, logEntryBytes, parseVerifierKey } from '../../contracts/index.ts';
import { replayPage, verifyLog } from '../../hub/src/audit/verifyLog.ts';
import type { NewEvent } from '../../hub/src/log/eventStore.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import type { Figure, Section } from '../report.ts';

const payload = {
  registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' },
  child: { name: { firstNames: ['Zoë', 'Łukasz'], familyName: 'Müller-Lüdenscheidt' }, sex: 'w', birth: { date: '2026-11-01', time: '07:45', exact: true } },
  parent1: { name: { firstNames: ['Sophie'], familyName: 'Ørsted' }, birthDate: '1994-05-17' },
};
const event = (i: number): NewEvent => ({ eventId: randomUUID(), type: 'BirthRegistered', data: { i, ...payload }, metadata: { signerKeyId: 'bench' } });
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-bench-log-'));
const seconds = (t0: number) => (performance.now() - t0) / 1000;

async function appendRate(count: number, inFlight: number): Promise<{ rate: number; perCommit: number }> {
  const dir = tmp();
  const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: 1000, everyMs: 0 } });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      while (next < count) {
        const i = next++;
        await log.append(`birth-${w}-${i % 50}`, [event(i)]);
      }
    }),
  );
  const rate = count / seconds(t0);
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate, perCommit: inFlight };
}

/**
 * The floor under any audit of a log in SQLite: every row read back in pages (better-sqlite3,
 * raw rows) and its stored text hashed once with SHA-256. The audit does this and more: it also
 * reads the tree's leaves to compare and hashes the tree's inner nodes.
 * - `columns` (`raw.sqlite.readHash.<size>`, the floor of earlier runs, kept comparable): a hash
 *   object per row, fed column by column, its digest a Buffer.
 * - `oneShot` (`raw.sqlite.readHashOneShot.<size>`, the fastest way found here, and the floor the
 *   goal is judged against): the row's columns joined and hashed in one call, the digest returned
 *   as a string (a Buffer per digest costs about as much as hashing a short input).
 */
function rawReadAndHashRate(file: string, pageSize: number, how: 'columns' | 'oneShot'): number {
  const db = new Database(file, { readonly: true });
  const page = db.prepare('SELECT position, stream, stream_revision, event_id, type, data, metadata, recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT ?').raw();
  const t0 = performance.now();
  let rows = 0;
  for (let from = 0; ; ) {
    const read = page.all(from, pageSize) as (string | number | Buffer)[][];
    if (read.length === 0) break;
    if (how === 'oneShot') for (const row of read) hash('sha256', `\0${row[0]}${row[1]}${row[2]}${row[3]}${row[4]}${row[5]}${row[6]}${row[7]}`, 'binary');
    else
      for (const row of read) {
        const digest = createHash('sha256').update(leafPrefix);
        for (const column of row) digest.update(typeof column === 'number' ? String(column) : column);
        digest.digest();
      }
    rows += read.length;
    from = Number(read[read.length - 1]![0]) + 1;
  }
  const rate = rows / seconds(t0);
  db.close();
  return rate;
}
const leafPrefix = Buffer.from([0]);

function rawInsertRate(count: number, perTransaction: number): number {
  const dir = tmp();
  const db = new Database(path.join(dir, 'raw.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT, stream_revision INTEGER, event_id TEXT UNIQUE, type TEXT, data TEXT, metadata TEXT, recorded_at TEXT)');
  const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const batch = db.transaction((from: number) => {
    for (let i = from; i < from + perTransaction; i++) {
      const e = event(i);
      insert.run(i, `s-${i % 50}`, i, e.eventId, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata), new Date().toISOString());
    }
  });
  const t0 = performance.now();
  for (let i = 0; i < count; i += perTransaction) batch(i);
  const rate = count / seconds(t0);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Builds a log of `count` entries quickly (batched appends), checkpointed every 10 000. */
async function buildLog(count: number): Promise<string> {
  const dir = tmp();
  const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: 10_000, everyMs: 0 } });
  for (let i = 0; i < count; i += 500) {
    await log.append(`birth-${i % 997}`, Array.from({ length: Math.min(500, count - i) }, (_, k) => event(i + k)));
  }
  await log.checkpointNow();
  await log.close();
  return dir;
}

/** Rounds of the audit and of its floor, alternated. */
const auditRounds = 3;

/** `large`: also at 1M entries; `huge`: also at 10M (the log alone: appends of synthetic entries, no crypto). */
export async function logProbe(options: { large: boolean; huge?: boolean }): Promise<Section[]> {
  const figures: Figure[] = [];
  const raw: Figure[] = [];

  const single = await appendRate(3000, 1);
  const concurrent = await appendRate(30_000, 256);
  figures.push({ key: 'log.append.sequential', label: 'log appends/s, one at a time (fsync each)', value: single.rate, unit: '/s', limit: 'raw.sqlite.insert.tx1' });
  figures.push({ key: 'log.append.concurrent', label: 'log appends/s, 256 in flight (group commit)', value: concurrent.rate, unit: '/s', limit: 'raw.sqlite.insert.tx256' });
  raw.push({ key: 'raw.sqlite.insert.tx1', label: 'raw SQLite inserts/s, WAL + FULL, 1 per transaction', value: rawInsertRate(3000, 1), unit: '/s' });
  raw.push({ key: 'raw.sqlite.insert.tx256', label: 'raw SQLite inserts/s, WAL + FULL, 256 per transaction', value: rawInsertRate(30_720, 256), unit: '/s' });

  const sizes = options.huge ? [100_000, 1_000_000, 10_000_000] : options.large ? [100_000, 1_000_000] : [100_000];
  for (const size of sizes) {
    const b0 = performance.now();
    const dir = await buildLog(size);
    const label = size >= 1_000_000 ? `${size / 1_000_000}M` : `${size / 1000}k`;
    figures.push({ key: `log.build.${label}`, label: `log of ${label} synthetic entries appended (500 per append, checkpoints every 10,000), entries/s`, value: size / seconds(b0), unit: '/s' });
    const t0 = performance.now();
    const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 } });
    figures.push({ key: `log.restart.${label}`, label: `restart (open log + tree) at ${label} entries`, value: (performance.now() - t0), unit: 'ms' });
    const entries = await log.size();
    const verifier = parseVerifierKey(log.verifierKey);
    if (!verifier.success) throw verifier.error;
    const proofs = 1000;
    const p0 = performance.now();
    for (let i = 0; i < proofs; i++) await log.inclusionProof(Math.floor((i * 7919) % (entries - 1)));
    figures.push({ key: `log.proof.${label}`, label: `inclusion proof generation at ${label} entries`, value: (performance.now() - p0) / proofs, unit: 'ms' });
    await log.close();
    // The audit and its floor alternate, three times each, and each is taken at its best: the
    // machine's speed drifts within a minute (other processes, frequency), and an audit measured
    // once beside a floor measured once afterwards compared two different machines.
    let auditRate = 0;
    let readRate = 0;
    let oneShotRate = 0;
    for (let round = 0; round < auditRounds; round++) {
      readRate = Math.max(readRate, rawReadAndHashRate(logFiles(dir).events, replayPage, 'columns'));
      oneShotRate = Math.max(oneShotRate, rawReadAndHashRate(logFiles(dir).events, replayPage, 'oneShot'));
      const store = openSqliteEventStore(logFiles(dir).events);
      const a0 = performance.now();
      const report = await verifyLog(store, verifier.data, { treeFile: logFiles(dir).tree });
      if (!report.ok) throw new Error(`bench log does not verify: ${report.reason}`);
      auditRate = Math.max(auditRate, report.entries / seconds(a0));
      await store.close();
    }
    figures.push({ key: `audit.verify.${label}`, label: `audit verify entries/s at ${label} entries (best of ${auditRounds})`, value: auditRate, unit: '/s', limit: 'raw.sha256.leaf' });
    raw.push({ key: `raw.sqlite.readHash.${label}`, label: `raw SQLite read of every row in pages + one SHA-256 of it (a hash object fed column by column), entries/s at ${label} (best of ${auditRounds}, alternated with the audit)`, value: readRate, unit: '/s' });
    raw.push({ key: `raw.sqlite.readHashOneShot.${label}`, label: `the same, the row joined and hashed in one call (digest as a string: the fastest way here), entries/s at ${label}`, value: oneShotRate, unit: '/s' });
    figures.push({ key: `audit.verify.${label}.vsRead`, label: `  the same audit beside the raw read-and-hash of its store (hash object per row, as in earlier runs)`, value: auditRate, unit: '/s', limit: `raw.sqlite.readHash.${label}` });
    figures.push({ key: `audit.verify.${label}.vsReadOneShot`, label: `  the same audit beside the fastest raw read-and-hash of its store`, value: auditRate, unit: '/s', limit: `raw.sqlite.readHashOneShot.${label}`, ratioGoalAtLeast: 0.9 });
    rmSync(dir, { recursive: true, force: true });
  }

  // Raw limits of the replay: hashing canonical entries, and Ed25519 verification.
  const entry = { position: 1, stream: 'birth-1', streamRevision: 0, eventId: randomUUID(), type: 'BirthRegistered', data: payload, metadata: {}, recordedAt: new Date().toISOString() };
  const bytes = logEntryBytes(entry);
  let t0 = performance.now();
  const n = 200_000;
  for (let i = 0; i < n; i++) leafHash(bytes);
  raw.push({ key: 'raw.sha256.leaf', label: 'raw SHA-256 leaf hashes/s (entry already canonical)', value: n / seconds(t0), unit: '/s' });
  t0 = performance.now();
  for (let i = 0; i < 20_000; i++) logEntryBytes(entry);
  raw.push({ key: 'raw.canonical.entry', label: 'RFC 8785 canonicalisations of an entry/s', value: 20_000 / seconds(t0), unit: '/s' });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signature = sign(null, bytes, privateKey);
  t0 = performance.now();
  for (let i = 0; i < 20_000; i++) verify(null, bytes, publicKey, signature);
  raw.push({ key: 'raw.ed25519.verify', label: 'raw Ed25519 verifications/s', value: 20_000 / seconds(t0), unit: '/s' });

  return [
    { name: 'Log (SQLite, durability on)', figures },
    { name: 'Raw limits: SQLite, hashing, signatures', figures: raw },
  ];
}
