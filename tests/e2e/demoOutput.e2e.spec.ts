// `elfe demo` as a person runs it, from an empty directory: quiet while the exchange starts (no
// "connection refused"), a final block that says what happened in words with every number
// explained and where to look next, its data in ./data/demo (ignored by git), replaced by the
// next run rather than piling up, and no process left behind.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { pidsWith, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const numberAfter = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);

describe.skipIf(!natsAvailable)('elfe demo output', () => {
  it('says what happened, explains every number, says where to look; reuses its data directory', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'elfe-demo-out-'));
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const run = await runElfe(['demo', '--births', '12'], { cwd, timeoutMs: 240_000 });
      expect(run.code, run.stderr).toBe(0);
      runs.push(run);
    }
    for (const run of runs) {
      // Quiet start: no retries against a NATS that is not up yet, no routine log lines.
      expect(run.stderr).not.toMatch(/connection refused|waiting for NATS|"level":30/);
      const out = run.stdout;
      expect(out).toMatch(/^What happened \(all delivered and answered, the log verifies\)$/m);
      const births = numberAfter(out, /^ {2}(\d+) births registered by \d+ Standesämter/m);
      const withConsent = numberAfter(out, /^ {2}(\d+) with the parents' consent/m);
      const without = numberAfter(out, /consent and an Elterngeld application number, (\d+) without/);
      expect(births).toBe(12);
      expect(withConsent + without).toBe(births);
      const early = numberAfter(out, /IdNr for \d+: (\d+) at once/);
      const late = numberAfter(out, /at once, (\d+) only after/);
      const never = numberAfter(out, /the corrections; (\d+) got none/);
      expect(early + late + never).toBe(births);
      // Each delivery count is the sum of what it is made of.
      const egs = /^ {2}(\d+) deliveries to Elterngeldstellen = (\d+) births? with consent \+ (\d+) corrections?/m.exec(out)!;
      expect(Number(egs[1])).toBe(Number(egs[2]) + Number(egs[3]));
      expect(Number(egs[2])).toBe(withConsent);
      const fka = /^ {2}(\d+) deliveries to Familienkassen = (\d+) births? with an IdNr \+ (\d+) corrections?/m.exec(out)!;
      expect(Number(fka[1])).toBe(Number(fka[2]) + Number(fka[3]));
      expect(Number(fka[2])).toBe(early + late);
      const answered = /Of (\d+) deliveries, (\d+) were acknowledged .*, 0 rejected, 0 dead-lettered, 0 without an answer/.exec(out)!;
      expect(Number(answered[1])).toBe(Number(egs[1]) + Number(fka[1]));
      expect(answered[2]).toBe(answered[1]);
      expect(out).toMatch(/median \d+ ms, 99th percentile \d+ ms/);
      expect(out).toMatch(/Audit: the log's \d+ entries .* verify/);
      expect(out).toMatch(/^Where to look next$/m);
      expect(out).toMatch(/inboxes: .*parties\/egs-\*\/inbox/);
      expect(out).toMatch(/the audit: elfe audit verify --data \S+\/hub/);
      expect(out).toMatch(/dashboard: elfe demo --keep/);
    }
    // The same births in a replaced directory: the same deliveries, a log of the same length (give or take
    // a checkpoint), not the first run's entries again.
    const entries = (out: string) => numberAfter(out, /Audit: the log's (\d+) entries/);
    const deliveries = (out: string) => /Of (\d+) deliveries/.exec(out)?.[1];
    expect(deliveries(runs[1]!.stdout)).toBe(deliveries(runs[0]!.stdout));
    expect(Math.abs(entries(runs[1]!.stdout) - entries(runs[0]!.stdout))).toBeLessThan(entries(runs[0]!.stdout) / 4);
    const data = path.join(cwd, 'data', 'demo');
    expect(readFileSync(path.join(data, '.gitignore'), 'utf8')).toMatch(/^\*$/m);
    expect(existsSync(path.join(data, 'ca', 'ca.key.pem'))).toBe(true);
    await until(() => pidsWith(cwd).length === 0, { what: 'no demo process left', timeoutMs: 10_000 });
  }, 600_000);

  it('refuses a --data directory with files no demo wrote', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-demo-foreign-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const run = await runElfe(['demo', '--births', '1', '--data', dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error \(data-dir-not-empty\): .*holds files that no earlier demo wrote/);
    expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
