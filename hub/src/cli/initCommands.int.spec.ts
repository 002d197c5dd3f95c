// `elfe init ROLE` for every kind of party, and the CA's side on what it wrote: the lines it
// prints for the CA's operator (`elfe pki register`, `elfe pki sign … --yes`) run as printed and
// issue the certificates; the configurations are complete, commented and load as written.
// `elfe routing show` and the routing checks at start.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCredentials } from '../../../connectors/kit/credentials.ts';
import { loadPartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { isNodeCertificate } from '../pki/nodeCertificates.ts';
import { ConfigError, loadConfig, parseConfig } from '../config/config.ts';
import { routingProblems } from '../routing/routingCheck.ts';
import { exitCode, type Io } from './command.ts';
import { commands } from './commands.ts';
import type { InitResult } from './initCommands.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-init-'));

/** Shell words of a printed line (plain words and double-quoted ones). */
const words = (line: string): string[] => [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));

async function elfe(...argv: string[]): Promise<{ status: number; out: string[]; text: string }> {
  const command = commands.filter((c) => c.path.every((p, i) => argv[i] === p)).sort((a, b) => b.path.length - a.path.length)[0];
  if (!command) throw new Error(`no command ${argv.join(' ')}`);
  const out: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false };
  const status = await command.run(argv.slice(command.path.length), io);
  return { status, out, text: out.join('\n') };
}

async function init(...argv: string[]): Promise<InitResult> {
  const run = await elfe('init', ...argv, '--json');
  expect(run.status, run.text).toBe(exitCode.ok);
  return JSON.parse(run.out.at(-1)!) as InitResult;
}

/** Runs the CA operator's lines as printed. */
async function caRuns(result: InitResult): Promise<void> {
  for (const line of result.caCommands) {
    const [first, ...rest] = words(line);
    expect(first).toBe('elfe');
    const run = await elfe(...rest);
    expect(run.status, `${line}\n${run.text}`).toBe(exitCode.ok);
  }
}

describe('elfe init', () => {
  it('every party: key 0600, request, complete commented config.json; the CA signs what it wrote with the lines it printed', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    expect((await elfe('pki', 'init', '--dir', ca)).status).toBe(exitCode.ok);
    const caCert = path.join(ca, 'ca.cert.pem');
    const hub = 'nats://127.0.0.1:4222';
    const parties = [
      ['standesamt', 'sta', 'psw:11007007', 'Standesamt Test'],
      ['meldebehoerde', 'mbh', 'mbh:demo', 'Meldebehörde (Demo)'],
      ['elterngeldstelle', 'egs', 'egs:11000000', 'Elterngeldstelle Berlin'],
      ['familienkasse', 'fka', 'fka:ost', 'Familienkasse Berlin-Brandenburg'],
      ['auditor', 'aud', 'aud:pruefer', 'Prüfstelle'],
      ['cockpit', 'dsc', 'dsc:bund', 'Datenschutzcockpit'],
    ] as const;
    for (const [role, dirName, dvdv, name] of parties) {
      const dir = path.join(base, dirName);
      const result = await init(role, '--dir', dir, '--hub', hub, '--ca-cert', caCert, '--dvdv', dvdv, '--name', name);
      expect(statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
      expect(result.toCa).toEqual([path.join(dir, 'request.csr')]);
      expect(result.caCommands).toHaveLength(2);
      expect(result.caCommands[1]).toMatch(/^elfe pki sign .*request\.csr --dir .* --yes$/);
      const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(config['//']).toBeTruthy();
      await caRuns(result);
      expect(loadCredentials(dir).certificatePem).toContain('BEGIN CERTIFICATE');
      if (role === 'auditor' || role === 'cockpit') continue;
      // The configuration loads as written, every default written out.
      const loaded = loadPartyConfig(path.join(dir, 'config.json'));
      expect(loaded).toMatchObject({ role, dvdv, name, dir, nats: { url: hub }, trust: { caCertFile: caCert, crlFile: path.join(ca, 'crl.pem') } });
      for (const key of ['startupTimeoutSeconds', 'clockSkewSeconds', 'outbox', 'hub']) expect(Object.keys(config), key).toContain(key);
    }
    // Refused: an address of another role's prefix, a second init into the same directory.
    const wrong = await elfe('init', 'elterngeldstelle', '--dir', path.join(base, 'x'), '--hub', hub, '--ca-cert', caCert, '--dvdv', 'fka:1', '--name', 'X');
    expect(wrong.status).toBe(exitCode.invalidInput);
    expect(wrong.text).toContain('invalid-input');
    expect(wrong.text).toContain('a elterngeldstelle has a egs: address, not fka:1');
    const again = await elfe('init', 'standesamt', '--dir', path.join(base, 'sta'), '--hub', hub, '--ca-cert', caCert, '--dvdv', 'psw:11007007', '--name', 'Standesamt Test');
    expect(again.status).toBe(exitCode.invalidInput);
    expect(again.text).toMatch(/exists.*elfe init never overwrites a party/);
    const noRole = await elfe('init', 'wizard', '--dir', path.join(base, 'w')).catch((e: Error) => ({ status: -1, text: e.message }));
    expect(noRole.text).toContain('unknown role wizard');
  });

  it('the hub: all its identities at once, signed as printed; the configuration loads with every section', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    await elfe('pki', 'init', '--dir', ca);
    const dir = path.join(base, 'hub');
    const result = await init('hub', '--dir', dir, '--hub', 'nats://127.0.0.1:14222', '--ca-cert', path.join(ca, 'ca.cert.pem'), '--api-port', '18443');
    expect(result.toCa.map((f) => path.relative(dir, f))).toEqual(['request.csr', 'ingress/request.csr', 'api/request.csr', 'nats-server/request.csr']);
    for (const f of result.keys) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(result.caCommands.filter((c) => c.includes('--allow-hub-identity'))).toHaveLength(4);
    await caRuns(result);
    for (const sub of ['.', 'ingress', 'api', 'nats-server']) expect(existsSync(path.join(dir, sub, 'cert.pem')), sub).toBe(true);
    const config = loadConfig(path.join(dir, 'config.json'));
    expect(config).toMatchObject({ dataDir: dir, nats: { port: 14222, serverDir: path.join(dir, 'nats-server') }, api: { port: 18443 }, trust: { issuedDir: path.join(ca, 'issued') } });
    const written = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const section of ['routing', 'meldebehoerden', 'standesaemter', 'delivery', 'ingress', 'retention', 'escalation', 'log']) {
      expect(Object.keys(written), section).toContain(section);
      expect(Object.keys(written['//'] as object), section).toContain(section);
    }
    // With an external NATS: no nats-server identity.
    const ext = await init('hub', '--dir', path.join(base, 'hub2'), '--hub', 'nats://n1.example:4222', '--ca-cert', path.join(ca, 'ca.cert.pem'), '--external-nats');
    expect(ext.toCa.map((f) => path.basename(path.dirname(f)))).toEqual(['hub2', 'ingress', 'api']);
    expect(JSON.parse(readFileSync(ext.configFile, 'utf8'))).toMatchObject({ nats: { url: 'nats://n1.example:4222' } });
    expect(ext.caCommands.join('\n')).toContain('--server-name n1.example');
  });

  it('a NATS node (signed with --nats-node) and a witness (nothing for the CA)', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    await elfe('pki', 'init', '--dir', ca);
    const node = await init('nats-node', '--dir', path.join(base, 'nats', 'n1'), '--hub', 'nats://127.0.0.1:14222', '--ca-cert', path.join(ca, 'ca.cert.pem'));
    expect(node.caCommands[0]).toContain('--nats-node');
    await caRuns(node);
    expect(isNodeCertificate(readFileSync(path.join(base, 'nats', 'n1', 'cert.pem'), 'utf8'))).toBe(true);
    const witness = await init('witness', '--dir', path.join(base, 'wit'), '--name', 'witness.example/w1');
    expect(witness.toCa).toEqual([]);
    expect(statSync(path.join(base, 'wit', 'witness.key')).mode & 0o777).toBe(0o600);
    expect(witness.notes.join('\n')).toMatch(/"verifierKey": "witness\.example\/w1\+[0-9a-f]{8}\+/);
  });
});

describe('routing as configuration', () => {
  const egs = [{ dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' }];
  const fka = [{ dvdv: 'fka:ost', name: 'Familienkasse Ost' }];
  const sta = (n: string) => ({ standesamtsnummer: n, name: `Standesamt ${n}`, phone: '1', address: { postcode: '10178', city: 'Berlin' } });

  it('refuses unknown addresses, overlaps and gaps at start, naming them', () => {
    const refused = (input: unknown) => {
      try {
        parseConfig(input);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ routing: { elterngeldstellen: egs, familienkassen: fka, rules: [{ standesamtPrefix: '11', elterngeldstelle: 'egs:99', familienkasse: 'fka:ost' }] }, standesaemter: [sta('11000001')] })).toContain('unknown recipient egs:99');
    const overlap = refused({
      routing: { elterngeldstellen: egs, familienkassen: fka, rules: [{ standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' }, { standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' }] },
      standesaemter: [sta('11000001')],
    });
    expect(overlap).toContain('routing.rules.1: overlap: rules 0 and 1 both have standesamtPrefix "11"');
    const gap = refused({ routing: { elterngeldstellen: egs, familienkassen: fka, rules: [{ standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' }] }, standesaemter: [sta('11000001'), sta('02000000')] });
    expect(gap).toContain('standesaemter.1: gap: no rule and no default covers Standesamt 02000000');
    // A default closes the gap; a Standesamt without a Meldebehörde is a warning.
    const config = parseConfig({
      routing: { elterngeldstellen: egs, familienkassen: fka, rules: [{ standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' }], default: { elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' } },
      meldebehoerden: { rules: [{ standesamtPrefix: '11', meldebehoerde: 'mbh:berlin' }] },
      standesaemter: [sta('11000001'), sta('02000000')],
    });
    expect(routingProblems(config)).toEqual([expect.objectContaining({ level: 'warning', path: 'standesaemter.1', message: expect.stringContaining('no Meldebehörde is responsible for Standesamt 02000000') })]);
  });

  it('elfe routing show names the addresses that hold no certificate of the CA', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    await elfe('pki', 'init', '--dir', ca);
    const egsDir = path.join(base, 'egs');
    await caRuns(await init('elterngeldstelle', '--dir', egsDir, '--hub', 'nats://127.0.0.1:4222', '--ca-cert', path.join(ca, 'ca.cert.pem'), '--dvdv', 'egs:11000000', '--name', 'Elterngeldstelle Berlin'));
    const file = path.join(base, 'hub.json');
    writeFileSync(file, JSON.stringify({ trust: { caCertFile: 'ca/ca.cert.pem', crlFile: 'ca/crl.pem', issuedDir: 'ca/issued' } }));
    const shown = await elfe('routing', 'show', '--config', file);
    expect(shown.status).toBe(exitCode.ok);
    expect(shown.text).not.toContain('egs:11000000 holds no certificate');
    expect(shown.text).toContain('warning: routing.elterngeldstellen.1: egs:04011000 holds no certificate of the CA (not in issued/holders.json): its deliveries are held back until the CA issues one');
    expect(shown.text).toContain('warning: meldebehoerden.default: mbh:demo holds no certificate of the CA (not in issued/holders.json): it cannot send IdNrs');
  });

  it('elfe routing show prints the table in force (text and JSON); a broken table is a typed error', async () => {
    const base = tmp();
    const file = path.join(base, 'hub.json');
    writeFileSync(file, JSON.stringify({ '//': 'comments are allowed', meldebehoerden: { rules: [{ standesamtPrefix: '04', meldebehoerde: 'mbh:bremen' }], default: 'mbh:demo' } }));
    const text = await elfe('routing', 'show', '--config', file);
    expect(text.status).toBe(exitCode.ok);
    expect(text.text).toContain('Standesamt 11007007 Standesamt Test\n    Elterngeldstelle egs:11000000 Elterngeldstelle Berlin [standesamtPrefix 11]\n    Familienkasse    fka:ost Familienkasse Berlin-Brandenburg [standesamtPrefix 11]\n    Meldebehörde     mbh:demo [default]');
    expect(text.text).toContain('Standesamt 04011000 Standesamt Bremen-Mitte');
    expect(text.text).toContain('Meldebehörde     mbh:bremen [standesamtPrefix 04]');
    // No CA files beside this configuration: said, not checked.
    expect(text.text).toMatch(/^warning: trust\.caCertFile: .* does not exist: the addresses were not checked/m);
    const json = await elfe('routing', 'show', '--config', file, '--json');
    const shown = JSON.parse(json.text) as { standesaemter: { standesamtsnummer: string; elterngeldstelle: { dvdv: string }; familienkasse: { dvdv: string }; meldebehoerde: { dvdv: string } }[] };
    expect(shown.standesaemter.find((s) => s.standesamtsnummer === '04011000')).toMatchObject({ elterngeldstelle: { dvdv: 'egs:04011000' }, familienkasse: { dvdv: 'fka:nord' }, meldebehoerde: { dvdv: 'mbh:bremen' } });
    writeFileSync(file, JSON.stringify({ standesaemter: [sta('05000000')] }));
    const broken = await elfe('routing', 'show', '--config', file);
    expect(broken.status).toBe(exitCode.invalidInput);
    expect(broken.text).toContain('invalid-config');
    expect(broken.text).toContain('gap: no rule and no default covers Standesamt 05000000');
  });
});
