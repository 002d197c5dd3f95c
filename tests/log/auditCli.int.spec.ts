import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newEvent } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { openHubLog } from '../../hub/src/log/openHubLog.ts';
import { repoRoot } from '../support/fixtures.ts';

const elfe = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin/elfe.js'), ...args], { encoding: 'utf8' });

describe('auditor command line', () => {
  it('keys show, audit proof, verify-proof and consistency work offline with the published key', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-auditcli-'));
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } });
    const events = Array.from({ length: 30 }, (_, i) => newEvent('E', { i }));
    for (const e of events.slice(0, 10)) await log.append('a', [e]);
    const first = await log.checkpointNow();
    for (const e of events.slice(10)) await log.append('b', [e]);
    await log.checkpointNow();
    await log.close();

    const keys = elfe('keys', 'show', '--data', dataDir, '--json');
    expect(keys.status).toBe(0);
    const { verifierKey, publicKeyPem } = JSON.parse(keys.stdout) as { verifierKey: string; publicKeyPem: string };
    const work = mkdtempSync(path.join(os.tmpdir(), 'elfe-auditor-'));
    writeFileSync(path.join(work, 'hub.vkey'), verifierKey);
    writeFileSync(path.join(work, 'hub.pub'), publicKeyPem);

    const proof = elfe('audit', 'proof', events[3]!.eventId, '--data', dataDir, '--json');
    expect(proof.status).toBe(0);
    writeFileSync(path.join(work, 'proof.json'), proof.stdout);
    for (const key of ['hub.vkey', 'hub.pub']) {
      const ok = elfe('audit', 'verify-proof', path.join(work, 'proof.json'), '--key', path.join(work, key), '--json');
      expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    }
    const altered = JSON.parse(proof.stdout);
    altered.entry.data.i = 4;
    writeFileSync(path.join(work, 'altered.json'), JSON.stringify(altered));
    const bad = elfe('audit', 'verify-proof', path.join(work, 'altered.json'), '--key', path.join(work, 'hub.vkey'), '--json');
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).error.code).toBe('not-included');

    const consistency = elfe('audit', 'consistency', '--from', String(first.treeSize), '--data', dataDir, '--key', path.join(work, 'hub.vkey'), '--json');
    expect(consistency.status).toBe(0);
    expect(JSON.parse(consistency.stdout).verified).toBe(true);

    expect(elfe('audit', 'proof', 'no-such-id', '--data', dataDir, '--json').status).toBe(2);
  });
});
