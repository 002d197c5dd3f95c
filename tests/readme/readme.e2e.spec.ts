// The README is executed: the shell blocks of "Two commands", "One machine" and "Several
// machines" run as written (tests/readme/readmeScript.ts) in empty temporary directories (with
// the checkout's examples/ beside them, as when an operator runs them from the checkout), and
// what the text promises is checked: the files appear where it says, the births reach the
// inboxes it names, the correction, the withdrawal and the IdNr are accepted. A README command
// changed to one that does not work fails the run, at that command.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands as registry } from '../../hub/src/cli/commands.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { until } from '../support/processes.ts';
import { commandsOf, repoRoot, runScript, scriptOf, shellBlocksOf, type Ports, type ScriptRun } from './readmeScript.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const dirs: string[] = [];
const runs: ScriptRun[] = [];

/** An empty directory with the checkout's examples/ beside it. */
function emptyDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `elfe-readme-${name}-`));
  symlinkSync(path.join(repoRoot, 'examples'), path.join(dir, 'examples'));
  dirs.push(dir);
  return dir;
}

const ports = async (): Promise<Ports> => ({ nats: await freePort(), api: await freePort(), metrics: await freePort() });
const files = (dir: string, pattern = /^[^.]/) => (existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)).sort() : []);
const failureText = (run: ScriptRun) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

afterAll(async () => {
  for (const run of runs) await run.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the README, run as written', () => {
  it('Two commands: each is a documented command with documented options', () => {
    const [block] = shellBlocksOf(readme, 'Two commands');
    const lines = commandsOf(block!);
    expect(lines).toEqual(['bash scripts/setup.sh && npx elfe demo --births 1000', 'bash scripts/setup.sh && npm test']);
    const scripts = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(existsSync(path.join(repoRoot, 'scripts', 'setup.sh'))).toBe(true);
    expect(scripts.test).toBeDefined();
    for (const part of lines.flatMap((l) => l.split('&&').map((p) => p.trim()))) {
      const words = part.split(/\s+/);
      if (words[0] === 'npx' && words[1] === 'elfe') {
        const rest = words.slice(2);
        const command = registry.filter((c) => c.path.every((w, i) => rest[i] === w)).sort((a, b) => b.path.length - a.path.length)[0];
        expect(command, part).toBeDefined();
        for (const option of rest.filter((w) => w.startsWith('--'))) expect(command!.usage, `${part}: ${option}`).toContain(option);
      }
    }
  });

  it.skipIf(!natsAvailable)('Two commands: the demo runs (with 20 births instead of 1000, without the set-up) and the audit is intact', async () => {
    const [block] = shellBlocksOf(readme, 'Two commands');
    const demo = commandsOf(block!)[0]!.split('&&')[1]!.trim().replace('--births 1000', '--births 20');
    expect(demo).toBe('npx elfe demo --births 20');
    const dir = emptyDir('demo');
    const run = await runScript(dir, scriptOf([demo], await ports()), 240_000);
    runs.push(run);
    expect(run.code, failureText(run)).toBe(0);
    expect(run.stdout).toMatch(/^\s*20 births registered/m);
    expect(run.stdout).toMatch(/^\s*Audit: the log's \d+ entries .* verify: nothing was changed, removed or reordered/m);
  }, 300_000);

  it.skipIf(!natsAvailable)('One machine: elfe start lays out ./data; the dropped pair reaches Berlin\'s Elterngeldstelle, and after the IdNr the Familienkasse', async () => {
    const blocks = shellBlocksOf(readme, 'One machine');
    expect(blocks.length).toBe(1);
    const dir = emptyDir('one');
    const run = await runScript(dir, scriptOf(commandsOf(blocks[0]!), await ports()), 240_000);
    runs.push(run);
    expect(run.code, failureText(run)).toBe(0);
    // What the text says `elfe start` creates.
    for (const file of ['data/ca/ca.cert.pem', 'data/ca/crl.pem', 'data/hub/cert.pem', 'data/hub/config.json', 'data/parties/sta-11007007/config.json', 'data/parties/egs-11000000/config.json', 'data/parties/fka-ost/config.json', 'data/parties/mbh-demo/config.json', 'data/parties/aud-local/cert.pem']) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    const watch = path.join(dir, 'data/parties/sta-11007007/watch');
    expect(files(path.join(watch, 'done'))).toEqual(['11007007_G_2026_334.081020.xml', '11007007_G_2026_334.081021.xml']);
    expect(files(path.join(watch, 'failed'))).toEqual([]);
    expect(run.stdout).toMatch(/accepted\s+11007007\/G\/2026\/334\s+BirthRegistered/);
    expect(run.stdout).toMatch(/IdNr registered: 11007007\/G\/2026\/334.*Familienkasse Berlin-Brandenburg: scheduled/);
    // The inboxes the text names.
    const egs = path.join(dir, 'data/parties/egs-11000000/inbox');
    const fka = path.join(dir, 'data/parties/fka-ost/inbox');
    await until(() => files(egs, /\.xml$/).length === 1 && files(fka, /\.json$/).length === 1, { what: 'the deliveries', timeoutMs: 60_000 });
    expect(readFileSync(path.join(egs, files(egs, /\.xml$/)[0]!), 'utf8')).toContain('131011');
    expect(JSON.parse(readFileSync(path.join(fka, files(fka, /\.json$/)[0]!), 'utf8'))).toBeTruthy();
    // Nobody else got it: the other agencies' inboxes stay empty.
    for (const other of ['egs-04011000', 'egs-02000000', 'fka-nord']) expect(files(path.join(dir, 'data/parties', other, 'inbox')), other).toEqual([]);
  }, 300_000);

  it.skipIf(!natsAvailable)('Several machines: every party set up by elfe init, registered and signed by the CA; registration, IdNr, correction and withdrawal accepted and delivered', async () => {
    // The section's first block is the walkthrough (the later ones show a rotation).
    const commands = commandsOf(shellBlocksOf(readme, 'Several machines')[0]!);
    expect(commands.filter((c) => c.startsWith('elfe init ')).length).toBeGreaterThanOrEqual(5);
    const dir = emptyDir('several');
    const run = await runScript(dir, scriptOf(commands, await ports()), 280_000);
    runs.push(run);
    expect(run.code, failureText(run)).toBe(0);
    // The CA's lines in the README are the ones elfe init printed for the operator.
    for (const line of commands.filter((c) => /^elfe pki (register|sign) /.test(c))) expect(run.stdout, line).toContain(`  ${line}\n`);
    // elfe init wrote each party's key (0600), request and configuration; the CA's certificates came back.
    const sites = path.join(dir, 'sites');
    for (const party of ['hub', 'hub/ingress', 'hub/api', 'hub/nats-server', 'egs', 'fka', 'sta', 'mbh']) {
      const key = path.join(sites, party, 'key.pem');
      expect(existsSync(key), key).toBe(true);
      expect(statSync(key).mode & 0o777, key).toBe(0o600);
      expect(existsSync(path.join(sites, party, 'request.csr')), party).toBe(true);
      expect(existsSync(path.join(sites, party, 'cert.pem')), party).toBe(true);
    }
    for (const party of ['hub', 'egs', 'fka', 'sta', 'mbh']) expect(readFileSync(path.join(sites, party, 'config.json'), 'utf8')).toContain('"//"');
    // The routing in force, checked against the CA's certificates: Berlin's offices hold theirs, the others not (yet).
    expect(run.stdout).toContain('Standesamt 11007007 Standesamt Test\n    Elterngeldstelle egs:11000000 Elterngeldstelle Berlin [standesamtPrefix 11]');
    expect(run.stdout).toContain('warning: routing.familienkassen.1: fka:nord holds no certificate of the CA');
    expect(run.stdout).not.toMatch(/(egs:11000000|fka:ost|mbh:demo) holds no certificate/);
    // The hub's answers, in its terms.
    expect(run.stdout).toMatch(/^registered: 11007007\/G\/2026\/334, log position \d+; Elterngeldstelle Berlin: scheduled; Familienkasse Berlin-Brandenburg: waits for the IdNr$/m);
    expect(run.stdout).toMatch(/^IdNr registered: 11007007\/G\/2026\/334.*Familienkasse Berlin-Brandenburg: scheduled/m);
    expect(run.stdout).toMatch(/^correction registered: 11007007\/G\/2026\/334.*Elterngeldstelle Berlin: scheduled \(correction\)/m);
    expect(run.stdout).toMatch(/^consent withdrawal registered: 11007007\/G\/2026\/334/m);
    // The inboxes: the birth and its correction at both agencies (the correction's reason beside the 131011).
    const egs = path.join(sites, 'egs/inbox');
    const fka = path.join(sites, 'fka/inbox');
    await until(() => files(egs, /\.xml$/).length === 2 && files(fka, /\.json$/).length === 2, { what: 'the deliveries', timeoutMs: 60_000 });
    const meta = files(egs, /\.meta\.json$/);
    expect(meta.length).toBe(1);
    expect(readFileSync(path.join(egs, meta[0]!), 'utf8')).toContain('Berichtigung (§ 47 PStG)');
    const xml = files(egs, /\.xml$/).map((f) => readFileSync(path.join(egs, f), 'utf8'));
    expect(xml.some((x) => x.includes('Mila'))).toBe(true);
  }, 300_000);

  it('fails, at that command, when a README command is changed to one that does not work', async () => {
    const commands = commandsOf(shellBlocksOf(readme, 'Several machines')[0]!);
    const index = commands.findIndex((c) => c.startsWith('elfe init elterngeldstelle '));
    expect(index).toBeGreaterThan(0);
    // The Elterngeldstelle's address given with the Familienkasse's prefix: the command refuses it.
    const mutated = commands.map((c, i) => (i === index ? c.replace('--dvdv egs:11000000', '--dvdv fka:11000000') : c));
    const dir = emptyDir('mutated');
    const run = await runScript(dir, scriptOf(mutated.slice(0, index + 2), await ports()), 120_000);
    runs.push(run);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('README command failed (exit 2): elfe init elterngeldstelle');
    expect(`${run.stdout}${run.stderr}`).toContain('invalid-input');
    expect(`${run.stdout}${run.stderr}`).toContain('not fka:11000000');
    expect(existsSync(path.join(dir, 'sites', 'egs'))).toBe(false);
  }, 150_000);
});
