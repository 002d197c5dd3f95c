// The closing line CI prints (`scripts/testSummary.js`), read from a real vitest JSON report of
// a small project run here: a failed test counts once, a file that cannot load counts once, and a
// run without failures exits 0.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const vitest = path.join(repo, 'node_modules/vitest/vitest.mjs');

/** Runs vitest on `files` in a new directory; the summary script's line and exit code. */
function summaryOf(files: Record<string, string>): { line: string; status: number | null } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-summary-'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const report = path.join(dir, 'results.json');
  spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--reporter=json', `--outputFile=${report}`], { cwd: dir, encoding: 'utf8' });
  const run = spawnSync(process.execPath, [path.join(repo, 'scripts/testSummary.js'), report], { encoding: 'utf8' });
  return { line: run.stdout.trim(), status: run.status };
}

describe('the CI summary line', () => {
  it('counts one failed test inside a describe block once, and a file that cannot load once', () => {
    const { line, status } = summaryOf({
      'a.spec.ts': `import { describe, expect, it } from 'vitest';
describe('outer', () => { describe('inner', () => { it('fails', () => expect(1).toBe(2)); it('passes', () => {}); it.skip('skipped', () => {}); }); });`,
      'b.spec.ts': `import './missing.ts';\nimport { it } from 'vitest';\nit('never runs', () => {});`,
    });
    expect(line).toBe('1 passed, 2 failed, 1 skipped');
    expect(status).toBe(1);
  });

  it('exits 0 and says 0 failed when everything passed', () => {
    const { line, status } = summaryOf({ 'c.spec.ts': `import { it } from 'vitest';\nit('one', () => {});\nit('two', () => {});` });
    expect(line).toBe('2 passed, 0 failed');
    expect(status).toBe(0);
  });

  it('reports a missing report as one failure', () => {
    const run = spawnSync(process.execPath, [path.join(repo, 'scripts/testSummary.js'), path.join(os.tmpdir(), 'no-such-report.json')], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('0 passed, 1 failed');
    expect(run.status).toBe(1);
  });
});
