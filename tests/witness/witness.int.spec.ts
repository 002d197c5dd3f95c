// A witness as its own process (`elfe witness start`), the hub's witness client talking to it,
// and the auditor's `audit verify --checkpoint`: a cut tail, a rollback of log and tree, and a
// forked history are each caught by the auditor and refused by the witness; a witness killed
// with SIGKILL keeps what it vouched for; cosignatures verify with an independent verifier.
import Database from 'better-sqlite3';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEvent } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import type { TransparentLog } from '../../hub/src/log/transparentLog.ts';
import { formatAddCheckpointRequest } from '../../contracts/index.ts';
import { elfe, WitnessProcess } from './support/witnessHarness.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-witness-${name}-`));

/** Cosignature/v1 verification written from the C2SP text, sharing no code with the project. */
function independentlyVerify(note: string, vkey: string): { timestamp: bigint } | string {
  const m = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey.trim());
  if (!m) return 'bad vkey';
  const [, name, hashHex, keyB64] = m as unknown as [string, string, string, string];
  const key = Buffer.from(keyB64, 'base64');
  if (key.length !== 33 || key[0] !== 0x04) return 'not a cosignature/v1 key';
  const pub = key.subarray(1);
  const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.of(0x04), pub])).digest().subarray(0, 4);
  if (keyId.toString('hex') !== hashHex) return 'key id mismatch';
  const cut = note.lastIndexOf('\n\n');
  const body = note.slice(0, cut + 1);
  for (const line of note.slice(cut + 2).split('\n')) {
    const prefix = `\u2014 ${name} `;
    if (!line.startsWith(prefix)) continue;
    const blob = Buffer.from(line.slice(prefix.length), 'base64');
    if (blob.length !== 76 || !blob.subarray(0, 4).equals(keyId)) continue;
    const timestamp = blob.readBigUInt64BE(4);
    const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
    const ok = verify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), blob.subarray(12));
    return ok ? { timestamp } : 'signature does not verify';
  }
  return 'no cosignature line';
}

const append = async (log: TransparentLog, n: number, tag: string) => {
  for (let i = 0; i < n; i++) await log.append(`birth-${i % 5}`, [newEvent('E', { tag, i })]);
};

let witnessKeyFile = '';
let witnessVkey = '';
let hubDir = '';
let hubVkey = '';
let witness: WitnessProcess;
let stateDir = '';
const refusals: string[] = [];
const openLog = (dataDir: string) =>
  openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 }, witnesses: [{ url: witness.url, verifierKey: witnessVkey }], log: (l) => refusals.push(l) });

/** The hub's log after two cosigned checkpoints; a snapshot of the data directory after the first. */
let snapshotDir = '';
let keptNote = '';
let keptSize = 0;
let firstNote = '';

beforeAll(async () => {
  const keys = tmp('keys');
  witnessKeyFile = path.join(keys, 'witness.key');
  const created = elfe('witness', 'key', 'create', '--out', witnessKeyFile, '--name', 'dsb.example/witness', '--json');
  expect(created.status, created.stderr).toBe(0);
  witnessVkey = JSON.parse(created.stdout).verifierKey;
  expect((await import('node:fs')).statSync(witnessKeyFile).mode & 0o777).toBe(0o600);

  hubDir = tmp('hub');
  const first = await openHubLog({ dataDir: hubDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } });
  hubVkey = first.verifierKey;
  await first.close();
  stateDir = tmp('state');
  witness = await new WitnessProcess(['--key', witnessKeyFile, '--log', hubVkey, '--state', stateDir]).start();

  const log = await openLog(hubDir);
  await append(log, 20, 'a');
  firstNote = (await log.checkpointNow()).note;
  await log.close();
  snapshotDir = tmp('snapshot');
  cpSync(hubDir, snapshotDir, { recursive: true });
  const again = await openLog(hubDir);
  await append(again, 30, 'b');
  keptSize = (await again.checkpointNow()).treeSize;
  await again.close();
  const shown = elfe('audit', 'checkpoint', '--data', hubDir);
  expect(shown.status, shown.stderr).toBe(0);
  keptNote = shown.stdout;
}, 120_000);

afterAll(async () => {
  await witness?.kill();
});

const keptFile = () => {
  const f = path.join(tmp('auditor'), 'kept.checkpoint');
  writeFileSync(f, keptNote);
  return f;
};
const auditVerify = (dir: string) => {
  const run = elfe('audit', 'verify', '--data', dir, '--checkpoint', keptFile(), '--witness-key', witnessVkey, '--json');
  return { status: run.status, report: JSON.parse(run.stdout || '{}') as { ok: boolean; code?: string }, stderr: run.stderr };
};

describe('witness and hub', () => {
  it('the witness cosigned the newest checkpoint, and an independent verifier accepts the cosignature', () => {
    expect(keptNote.split('\n')[1]).toBe(String(keptSize));
    const verified = independentlyVerify(keptNote, witnessVkey);
    expect(verified, String(verified)).toMatchObject({ timestamp: expect.any(BigInt) });
    const altered = keptNote.replace(`\n${keptSize}\n`, `\n${keptSize + 1}\n`);
    expect(independentlyVerify(altered, witnessVkey)).toBe('signature does not verify');
    expect(refusals).toEqual([]);
    const state = JSON.parse(readFileSync(path.join(stateDir, 'witness-state.json'), 'utf8'));
    expect(state.logs['elfe-hub/log'].size).toBe(keptSize);
  });

  it('an intact log extends the kept, cosigned checkpoint', () => {
    const { status, report } = auditVerify(hubDir);
    expect(report).toMatchObject({ ok: true });
    expect(status).toBe(0);
  });

  it('a cut tail (newest rows of log.sqlite, checkpoints included) is caught and refused', async () => {
    const dir = tmp('cut');
    cpSync(hubDir, dir, { recursive: true });
    const db = new Database(logFiles(dir).events);
    db.prepare('DELETE FROM events WHERE position >= ?').run(25);
    db.close();
    expect(elfe('audit', 'verify', '--data', dir, '--json').status).toBe(1);
    expect(JSON.parse(elfe('audit', 'verify', '--data', dir, '--json').stdout)).toMatchObject({ ok: false, code: 'tree-longer-than-log' });
    expect(auditVerify(dir)).toMatchObject({ status: 1, report: { ok: false, code: 'truncated' } });

    // The hub itself refuses to go on from it (it used to cut its tree and sign a checkpoint of 20, which the witness refused as witness-ahead).
    const refused = await openLog(dir).then(
      (log) => log.close(),
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ name: 'LogHistoryError', code: 'tree-longer-than-log', sizes: { log: 25, tree: 52 } });
    expect(JSON.parse(elfe('audit', 'verify', '--data', dir, '--json').stdout)).toMatchObject({ ok: false, code: 'tree-longer-than-log' });
  });

  it('a rollback of log and tree together is caught; the rolled-back hub going on is refused as inconsistent and seen as a fork', async () => {
    const dir = tmp('rollback');
    cpSync(snapshotDir, dir, { recursive: true });
    expect(auditVerify(dir)).toMatchObject({ status: 1, report: { ok: false, code: 'rolled-back' } });

    refusals.length = 0;
    const log = await openLog(dir);
    await append(log, 60, 'c');
    await log.checkpointNow();
    await log.close();
    expect(refusals.join('\n')).toMatch(/WITNESS REFUSED checkpoint \d+ \(inconsistent\)/);
    expect(auditVerify(dir)).toMatchObject({ status: 1, report: { ok: false, code: 'forked' } });
  });

  it('another log with the same key and origin diverging is refused and caught as a fork', async () => {
    const dir = tmp('fork');
    cpSync(logFiles(hubDir).hubKey, logFiles(dir).hubKey);
    refusals.length = 0;
    const log = await openLog(dir);
    await append(log, 80, 'fork');
    await log.checkpointNow();
    await log.close();
    expect(refusals.join('\n')).toMatch(/WITNESS REFUSED checkpoint \d+ \(inconsistent\)/);
    expect(auditVerify(dir)).toMatchObject({ status: 1, report: { ok: false, code: 'forked' } });
  });

  it('a witness killed with SIGKILL comes back with its state and refuses to go back', async () => {
    await witness.kill('SIGKILL');
    witness = await new WitnessProcess(['--key', witnessKeyFile, '--log', hubVkey, '--state', stateDir]).start();
    const back = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpointRequest({ oldSize: 0, proof: [], note: firstNote }) });
    expect(back.status).toBe(409);
    expect(back.headers.get('content-type')).toBe('text/x.tlog.size');
    expect(await back.text()).toBe(`${keptSize}\n`);
    const sameSize = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpointRequest({ oldSize: keptSize, proof: [], note: firstNote }) });
    expect(sameSize.status).toBe(400);
  });

  it('refuses malformed, oversized, unknown and badly signed submissions', async () => {
    const post = (body: string | Buffer) => fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body });
    expect((await post('garbage')).status).toBe(400);
    expect((await post(Buffer.from([0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff, 0xfe]))).status).toBe(400);
    expect((await post('x'.repeat(200_000)).catch(() => ({ status: 413 }))).status).toBe(413);
    expect((await fetch(`${witness.url}/add-checkpoint`)).status).toBe(405);
    expect((await fetch(`${witness.url}/other`, { method: 'POST', body: '' })).status).toBe(404);
    const body = keptNote.split('\n\n')[0]!;
    const stripped = `${body}\n\n${keptNote.split('\n\n')[1]!.split('\n')[0]}\n`;
    expect((await post(formatAddCheckpointRequest({ oldSize: keptSize, proof: [], note: stripped.replace('elfe-hub/log\n', 'other.example/log\n') }))).status).toBe(404);
    expect((await post(formatAddCheckpointRequest({ oldSize: keptSize, proof: [], note: stripped.replace(`\n${keptSize}\n`, `\n${keptSize + 1}\n`) }))).status).toBe(403);
    // The honest, unchanged checkpoint is still accepted (same size, same root).
    const again = await post(formatAddCheckpointRequest({ oldSize: keptSize, proof: [], note: stripped }));
    expect(again.status).toBe(200);
    expect(independentlyVerify(`${stripped}${await again.text()}`, witnessVkey)).toMatchObject({ timestamp: expect.any(BigInt) });
  });

  it('audit proof --format tlog-proof writes a C2SP tlog-proof that verify-proof accepts with the witness key', async () => {
    const store = new Database(logFiles(hubDir).events, { readonly: true });
    const { event_id: id } = store.prepare('SELECT event_id FROM events WHERE position = 7').get() as { event_id: string };
    store.close();
    const proof = elfe('audit', 'proof', id, '--data', hubDir, '--format', 'tlog-proof');
    expect(proof.status, proof.stderr).toBe(0);
    const lines = proof.stdout.split('\n');
    expect(lines[0]).toBe('c2sp.org/tlog-proof@v1');
    expect(lines[1]).toMatch(/^extra [A-Za-z0-9+/=]+$/);
    expect(lines[2]).toBe('index 7');
    const dir = tmp('proof');
    const file = path.join(dir, 'entry.tlog-proof');
    writeFileSync(file, proof.stdout);
    const keyFile = path.join(dir, 'hub.vkey');
    writeFileSync(keyFile, hubVkey);
    const ok = elfe('audit', 'verify-proof', file, '--key', keyFile, '--witness-key', witnessVkey, '--json');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, kind: 'tlog-proof', cosignedBy: ['dsb.example/witness'] });
    writeFileSync(file, proof.stdout.replace(/^index 7$/m, 'index 8'));
    const bad = elfe('audit', 'verify-proof', file, '--key', keyFile, '--json');
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).error.code).toBe('not-included');
  });
});
