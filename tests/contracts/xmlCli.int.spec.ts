import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesAvailable, fixturesDir, repoRoot } from '../support/fixtures.ts';
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';

const elfe = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin/elfe.js'), ...args], { encoding: 'utf8', cwd: repoRoot });
const f = (p: string) => path.join(fixturesDir, p);

describe.skipIf(!fixturesAvailable)('elfe xml', () => {
  it('parse prints the contract and exits 0', () => {
    const run = elfe('xml', 'parse', f('samples/Portal2StAGeburt081020_xpsw2511.xml'), '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kind: '081020', header: { release: '25.11' } });
  });

  it('parse refuses with a typed error as JSON and exits 2', () => {
    const run = elfe('xml', 'parse', f('samples/Portal2StASterbefall084020.xml'), '--json');
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: 'unsupported-message', message: expect.any(String), path: '/xp:portal2StA.Sterbefall.084020' } });
  });

  it('parse --with --register joins the pair; render 131011 turns it into valid XML', () => {
    const joined = elfe('xml', 'parse', f('examples/portal2StA.Geburt.081020.xml'), '--with', f('examples/portal2StA.Geburt.081021.xml'), '--register', '11007007/G/2026/334', '--json');
    expect(joined.status).toBe(0);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-cli-'));
    const input = path.join(dir, 'birth.json');
    writeFileSync(input, joined.stdout);
    const rendered = elfe('xml', 'render', '131011', '--input', input);
    expect(rendered.status).toBe(0);
    expect(rendered.stdout).toContain('<xp:auftragsnummer>EG-2026-4711</xp:auftragsnummer>');
    if (xmllintAvailable) expect(validateAgainstXsd('elterngeldstelle', [rendered.stdout]).ok).toBe(true);
  });

  it('render refuses a registration without consent (exit 2)', () => {
    const joined = elfe('xml', 'parse', f('examples/portal2StA.Geburt.081020.xml'), '--register', '11007007/G/2026/334', '--json');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-cli-'));
    const input = path.join(dir, 'birth.json');
    writeFileSync(input, joined.stdout);
    const rendered = elfe('xml', 'render', '131011', '--input', input, '--to', 'egs:04011000');
    expect(rendered.status).toBe(2);
    expect(JSON.parse(rendered.stdout).error.code).toBe('missing-consent');
  });
});
