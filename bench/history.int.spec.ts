// The restart probe's generated history is a real one: the hub's own audit replays it with every
// signature checked (the parties' keys, the CA's certificates), and what the builder reports
// agrees with what the log and the read side hold, read back independently.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { provisionExchange } from '../hub/src/app/exchange.ts';
import { freePort } from '../hub/src/infra/nats/natsServer.ts';
import { repoRoot } from '../hub/src/infra/repoRoot.ts';
import { logFiles } from '../hub/src/log/openHubLog.ts';
import { openProjectionStore } from '../hub/src/readside/projectionStore.ts';
import { idnrIndexKey } from '../hub/src/readside/readSide.ts';
import { trackingKey } from '../hub/src/tracking/trackingCode.ts';
import { buildHistory } from './history.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-history-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('generated history (bench/history.ts)', () => {
  it('is signed, routed and acknowledged as the hub would log it, and audits intact with every signature checked', async () => {
    const exchange = await provisionExchange(root, { natsPort: await freePort(), metricsPort: await freePort(), apiPort: await freePort() });
    const history = await buildHistory(exchange, { entries: 600, inFlight: 16 });
    expect(history.entries).toBeGreaterThanOrEqual(600);
    expect(history.births).toBeGreaterThan(50);
    // What the bench divides by: the workers' crypto and the main thread's appends, each measured.
    expect(history.cryptoMs).toBeGreaterThan(0);
    expect(history.appendMs).toBeGreaterThan(0);
    expect(history.appendMs).toBeLessThanOrEqual(history.logSeconds * 1000);

    // The log, read raw: as many registrations, hand-offs and receipts as the builder says.
    const db = new Database(logFiles(exchange.hubDir).events, { readonly: true });
    const count = (type: string) => (db.prepare('SELECT COUNT(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n;
    const entries = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    expect(count('BirthRegistered')).toBe(history.births);
    expect(count('DeliveryScheduled')).toBe(history.deliveries);
    expect(count('DeliveryAcknowledged')).toBe(history.deliveries);
    db.close();
    expect(entries).toBe(history.entries);

    // The read side projected every case, and the hub opens it as it is: nothing to project again at its start.
    const readSide = new Database(path.join(exchange.hubDir, 'readside', 'readside.sqlite'), { readonly: true });
    expect((readSide.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n).toBe(history.births);
    readSide.close();
    const dir = path.join(exchange.hubDir, 'readside');
    const asTheHubOpensIt = openProjectionStore(path.join(dir, 'readside.sqlite'), idnrIndexKey(dir), trackingKey(exchange.hubDir));
    expect(asTheHubOpensIt.position).toBe(history.entries);
    asTheHubOpensIt.close();

    // The hub's audit, as an auditor runs it: leaves, roots, checkpoints, and each signature against the CA.
    const audit = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'elfe.js'), 'audit', 'verify', '--config', exchange.hubConfigFile, '--json'], { encoding: 'utf8' });
    expect(audit.status, audit.stderr).toBe(0);
    const report = JSON.parse(audit.stdout) as { ok: boolean; entries: number; signatures?: { checked: number; erased: number } };
    expect(report).toMatchObject({ ok: true, entries: history.entries });
    // Every registration and every receipt (and the other submissions) carries a signature that was checked.
    expect(report.signatures?.erased).toBe(0);
    expect(report.signatures!.checked).toBeGreaterThanOrEqual(history.births + history.deliveries);
  }, 120_000);
});
