// The hub never signs a shorter history. Its latest signed checkpoint is also kept beside the log
// (checkpoint.latest), so cutting the log and its tree together by the same number of entries is
// found at the next `elfe hub start`: exit 2, both sizes named, nothing left running. An audit on
// such a data directory changes no byte of it. Only the operator's `elfe hub accept-shorter-log`
// lets the hub start again, and the decision is recorded in the log.
import Database from 'better-sqlite3';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { witnessVerifierKey } from '../../contracts/index.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { newEvent } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { TreeStore } from '../../hub/src/log/merkle/treeStore.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { CosignatureStore } from '../../hub/src/witness/witnessing.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { PartyProcess, pidsWith, runElfe } from '../support/processes.ts';

/** Every file under `dir` with the SHA-256 of its bytes (and its mtime), for a before/after comparison. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) walk(file);
      else out[path.relative(dir, file)] = `${createHash('sha256').update(readFileSync(file)).digest('hex')} ${statSync(file).mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

async function logSize(dataDir: string): Promise<number> {
  const store = openSqliteEventStore(logFiles(dataDir).events);
  return store.size().finally(() => store.close());
}

/** Cuts the log and its tree together: the last `n` entries and their leaves are gone. */
function cutTogether(dataDir: string, n: number): number {
  const db = new Database(logFiles(dataDir).events);
  const size = (db.prepare('SELECT MAX(position) + 1 AS size FROM events').get() as { size: number }).size;
  db.prepare('DELETE FROM events WHERE position >= ?').run(size - n);
  db.close();
  const tree = new TreeStore(logFiles(dataDir).tree);
  expect(tree.size).toBe(size);
  tree.truncate(size - n);
  tree.close();
  return size - n;
}

async function firstEventId(dataDir: string): Promise<string | undefined> {
  const db = new Database(logFiles(dataDir).events, { readonly: true });
  const row = db.prepare('SELECT event_id FROM events WHERE position = 0').get() as { event_id: string } | undefined;
  db.close();
  return row?.event_id;
}

const signedSizeIn = (dataDir: string): number => Number(readFileSync(path.join(dataDir, 'checkpoint.latest'), 'utf8').split('\n')[1]);

describe('a log shorter than its own tree is not cut silently', () => {
  it('TransparentLog.open refuses a tree longer than the log, naming both sizes, and keeps the tree', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-longtree-'));
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } });
    for (let i = 0; i < 12; i++) await log.append('s', [newEvent('E', { i })]);
    await log.close();
    const db = new Database(logFiles(dataDir).events);
    db.prepare('DELETE FROM events WHERE position >= 9').run();
    db.close();
    const refused = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ name: 'LogHistoryError', code: 'tree-longer-than-log', sizes: { log: 9, tree: 12 } });
    // Nor does an audit cut it: `elfe audit proof` and `audit consistency` change no byte of the data directory.
    const id = (await firstEventId(dataDir))!;
    const before = fingerprint(dataDir);
    const proof = await runElfe(['audit', 'proof', id, '--data', dataDir, '--json']);
    expect(proof.stderr).toContain('holds 9 entries but its tree 12');
    await runElfe(['audit', 'consistency', '--from', '0', '--data', dataDir, '--json']);
    expect(fingerprint(dataDir)).toEqual(before);
    const tree = new TreeStore(logFiles(dataDir).tree);
    expect(tree.size).toBe(12);
    tree.close();
  });
});

describe('an audit beside a running hub', () => {
  it('reads a snapshot taken with SQLite backup while the hub holds the data directory and appends', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-running-'));
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: 20, everyMs: 0 } });
    const events = Array.from({ length: 50 }, (_, i) => newEvent('E', { i }));
    for (const e of events) await log.append('s', [e]);
    // This process stands for the hub: it holds the lock and keeps appending during the audit.
    writeFileSync(path.join(dataDir, 'hub.lock'), String(process.pid));
    let more = true;
    const appending = (async () => {
      for (let i = 0; more; i++) await log.append('t', [newEvent('E', { more: i })]);
    })();
    try {
      const proof = await runElfe(['audit', 'proof', events[7]!.eventId, '--data', dataDir, '--json']);
      expect(proof.code, proof.stderr).toBe(0);
      expect(JSON.parse(proof.stdout)).toMatchObject({ kind: 'elfe-inclusion-proof', leafIndex: 7 });
    } finally {
      more = false;
      await appending;
      await log.close();
    }
  });
});

describe('what a witness cosigned counts as signed', () => {
  it("a log shorter than a configured witness's last cosigned size does not open, naming the witness", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-witnessed-'));
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } });
    for (let i = 0; i < 10; i++) await log.append('s', [newEvent('E', { i })]);
    await log.close();
    // The witness vouched for a size of 15 (the hub keeps its cosignatures beside the log); the log holds 10.
    const name = 'test.example/witness';
    const witnesses = [{ url: 'http://127.0.0.1:9', verifierKey: witnessVerifierKey(name, generateKeyPairSync('ed25519').publicKey) }];
    const cosignatures = new CosignatureStore(logFiles(dataDir).cosignatures);
    cosignatures.add(15, name, `— ${name} AAAA`);
    cosignatures.close();
    const refused = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 }, witnesses, log: () => undefined }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ name: 'LogHistoryError', code: 'log-shorter-than-signed', sizes: { log: 10, signed: 15, signedBy: `witness ${name}` } });
    // Without the witness configured, the same log opens (nothing else was signed).
    await (await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } })).close();
  });
});

describe.skipIf(!natsAvailable)('the hub never signs a shorter history (elfe hub start as a process)', () => {
  it('cut log and tree together: start refused with both sizes, nothing running; audit proof changes nothing; the operator decision lets it start, recorded', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-shorter-'));
    const exchange = await provisionExchange(root, { natsPort: await freePort(), metricsPort: 0 });
    const config = loadConfig(exchange.hubConfigFile);
    const dataDir = config.dataDir;
    // A history: entries under signed checkpoints, written through the hub's own log code.
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: 10, everyMs: 0 } });
    const events = Array.from({ length: 40 }, (_, i) => newEvent('E', { i }));
    for (const e of events) await log.append(`s-${e.eventId.slice(0, 2)}`, [e]);
    await log.checkpointNow();
    await log.close();
    // The hub runs once and stops cleanly (signing what it added).
    const hub = new PartyProcess('hub', ['hub', 'start', '--config', exchange.hubConfigFile]);
    try {
      await hub.ready(/^ready:/m, 90_000);
    } finally {
      await hub.kill('SIGTERM');
    }
    // What the hub signed last: its newest checkpoint in the log (and, kept beside it, checkpoint.latest).
    const db0 = new Database(logFiles(dataDir).events, { readonly: true });
    const signed = Math.max(...(db0.prepare("SELECT data FROM events WHERE stream = 'log-checkpoints'").all() as { data: string }[]).map((r) => (JSON.parse(r.data) as { data: { treeSize: number } }).data.treeSize));
    db0.close();
    expect(signed).toBe((await logSize(dataDir)) - 1);

    const cut = cutTogether(dataDir, 15);
    expect(cut).toBeLessThan(signed);
    expect(signedSizeIn(dataDir)).toBe(signed);

    // The audit reads a copy: not one byte (nor mtime) of the data directory changes.
    const before = fingerprint(dataDir);
    const proof = await runElfe(['audit', 'proof', events[3]!.eventId, '--data', dataDir, '--json']);
    expect(proof.code, proof.stderr).toBe(0);
    expect(proof.stderr).toContain(`holds ${cut} entries but the hub signed ${signed}`);
    const consistency = await runElfe(['audit', 'consistency', '--from', '11', '--data', dataDir, '--json']);
    expect([0, 2]).toContain(consistency.code);
    expect(fingerprint(dataDir)).toEqual(before);

    // The start is refused, naming both sizes; nothing of it keeps running.
    const refused = await runElfe(['hub', 'start', '--config', exchange.hubConfigFile], { timeoutMs: 90_000 });
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    const said = refused.stdout + refused.stderr;
    expect(said).toContain('log-shorter-than-signed');
    expect(said).toContain(`holds ${cut} entries`);
    expect(said).toContain(`checkpoint of ${signed}`);
    expect(pidsWith(root)).toEqual([]);
    expect(await logSize(dataDir)).toBe(cut);
    expect(signedSizeIn(dataDir)).toBe(signed);

    // A mistaken size is refused; the right one is accepted and the next start records it.
    expect((await runElfe(['hub', 'accept-shorter-log', '--config', exchange.hubConfigFile, '--size', String(cut + 1), '--reason', 'test: backup lost'])).code).toBe(2);
    const accepted = await runElfe(['hub', 'accept-shorter-log', '--config', exchange.hubConfigFile, '--size', String(cut), '--reason', 'test: the last entries are lost for good']);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(existsSync(path.join(dataDir, 'accept-shorter-log.json'))).toBe(true);
    const again = new PartyProcess('hub', ['hub', 'start', '--config', exchange.hubConfigFile]);
    try {
      await again.ready(/^ready:/m, 90_000);
    } finally {
      await again.kill('SIGTERM');
    }
    expect(existsSync(path.join(dataDir, 'accept-shorter-log.json'))).toBe(false);
    const decisions = readFileSync(path.join(dataDir, 'shorter-log-decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { size: number; signedSize: number; appliedAtPosition: number; reason: string });
    expect(decisions).toMatchObject([{ size: cut, signedSize: signed, appliedAtPosition: cut, reason: 'test: the last entries are lost for good' }]);
    const db = new Database(logFiles(dataDir).events, { readonly: true });
    const recorded = db.prepare('SELECT stream, data FROM events WHERE position = ?').get(cut) as { stream: string; data: string };
    db.close();
    expect(recorded.stream).toBe('security');
    expect(JSON.parse(recorded.data)).toMatchObject({ type: 'SecurityEventRecorded', data: { code: 'shorter-log-accepted' } });
    expect(JSON.parse(recorded.data).data.reason).toContain(`accepted a log of ${cut} entries although a checkpoint of ${signed} was signed`);
    expect(signedSizeIn(dataDir)).toBeGreaterThan(cut);

    // From then on it starts as usual, without any decision.
    const third = new PartyProcess('hub', ['hub', 'start', '--config', exchange.hubConfigFile]);
    try {
      await third.ready(/^ready:/m, 90_000);
    } finally {
      await third.kill('SIGTERM');
    }
    const verify = await runElfe(['audit', 'verify', '--data', dataDir, '--json']);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  }, 300_000);
});
