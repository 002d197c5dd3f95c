import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { idNrFrom } from '../../../contracts/src/testing/sampleBirth.ts';

const bin = resolve(import.meta.dirname, '../../../bin/elfe.js');
const elfe = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('elfe command line', () => {
  it('prints help with its commands', () => {
    const run = elfe('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('idnr check');
  });

  it('refuses an unknown command with the usage exit code', () => {
    const run = elfe('frobnicate');
    expect(run.status).toBe(64);
    expect(run.stderr).toContain('unknown command');
  });

  it('checks IdNrs: exit 0 valid, 2 invalid with the reason, test IdNrs only with --test-ids', () => {
    expect(elfe('idnr', 'check', '36574261809').status).toBe(0);
    const invalid = elfe('idnr', 'check', '36574261808', '--json');
    expect(invalid.status).toBe(2);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ valid: false, code: 'check-digit' });
    const testId = idNrFrom('0123456788');
    expect(elfe('idnr', 'check', testId).status).toBe(2);
    expect(elfe('idnr', 'check', testId, '--test-ids').status).toBe(0);
  });

  it('never prints an IdNr in clear', () => {
    expect(elfe('idnr', 'check', '36574261809').stdout).not.toContain('36574261809');
  });
});
