// A witness by default: `elfe exchange init` lays out a local witness (DATA/witness/: its own
// key, config.json, state/ with its lock) and names it in the hub's "witnesses"; `elfe start`
// runs it as its own process before the hub, and every checkpoint of the hub is cosigned. A
// second witness on the same state is refused; a witness killed with SIGKILL comes back with
// the same command and continues from the size it last cosigned (the hub sends it the
// checkpoints it missed). Each command runs as its own process.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../../hub/src/demo/synthetic.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { baseNameOf, birthXml, dropBirth } from '../support/births.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { PartyProcess, pidsWith, processAlive, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;
const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The size the witness last cosigned for the hub's log (0 before the first). */
const witnessSize = (root: string): number => {
  const file = path.join(root, 'witness', 'state', 'witness-state.json');
  if (!existsSync(file)) return 0;
  const logs = (JSON.parse(readFileSync(file, 'utf8')) as { logs: Record<string, { size: number }> }).logs;
  return logs['elfe-hub/log']?.size ?? 0;
};

/** The hub's latest checkpoint as the API serves it (`/checkpoint`, as the auditor aud-local). */
function apiCheckpoint(root: string, port: number): Promise<{ status: number; body: string }> {
  const aud = path.join(root, 'parties', 'aud-local');
  return new Promise((resolve, reject) => {
    const req = https.request(`https://127.0.0.1:${port}/checkpoint`, { ca: readFileSync(path.join(root, 'ca', 'ca.cert.pem')), key: readFileSync(path.join(aud, 'key.pem')), cert: readFileSync(path.join(aud, 'cert.pem')), agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The checkpoint note's size and whether it carries the local witness's cosignature line. */
const cosigned = (note: string) => ({ size: Number(note.split('\n')[1]), witnessLine: /^— elfe-witness\.local\/w1 \S+$/m.test(note) });

describe.skipIf(!natsAvailable)('a witness by default', () => {
  it('elfe exchange init lays out the witness; elfe start runs it, every checkpoint is cosigned; a second witness on its state is refused; killed with SIGKILL, it comes back and continues', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-witness-'));
    roots.push(root);
    const apiPort = await freePort();
    const args = ['--data', root, '--nats-port', String(await freePort()), '--metrics-port', String(await freePort()), '--api-port', String(apiPort)];
    const init = await runElfe(['exchange', 'init', ...args], { timeoutMs: 120_000 });
    expect(init.code, init.stderr).toBe(0);
    const laidOut = JSON.parse(init.stdout) as { witness: { url: string; verifierKey: string; config: string; run: string } };
    const configFile = path.join(root, 'witness', 'config.json');
    expect(laidOut.witness).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), verifierKey: expect.stringMatching(/^elfe-witness\.local\/w1\+[0-9a-f]{8}\+/), config: configFile, run: `elfe witness start --config ${configFile}` });
    // Its own key (0600) and state; the hub's configuration names it; the log it cosigns is the hub's.
    expect(statSync(path.join(root, 'witness', 'witness.key')).mode & 0o077).toBe(0);
    const hubConfig = JSON.parse(readFileSync(path.join(root, 'hub', 'config.json'), 'utf8')) as { witnesses: unknown };
    expect(hubConfig.witnesses).toEqual([{ url: laidOut.witness.url, verifierKey: laidOut.witness.verifierKey }]);
    const witnessConfig = JSON.parse(readFileSync(configFile, 'utf8')) as { log: string };
    const keys = await runElfe(['keys', 'show', '--data', path.join(root, 'hub'), '--json']);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toContain(witnessConfig.log);

    const start = new PartyProcess('start', ['start', ...args]);
    try {
      await start.ready(/\[witness\] ready: witness elfe-witness\.local\/w1 on http:\/\/127\.0\.0\.1:\d+ for elfe-hub\/log at size 0/m, 120_000);
      await start.ready(/\[hub\] ready:/m, 120_000);
      await start.ready(/\[sta-11007007\] ready:/m, 60_000);
      // Said once every party is ready, not with the first of them.
      await start.ready(/^witness: http:\/\/127\.0\.0\.1:\d+ .* cosigns every checkpoint/m, 60_000);

      // A second witness on the same state directory: refused, named, exit 2.
      const second = await runElfe(['witness', 'start', '--config', configFile, '--port', '0'], { timeoutMs: 30_000 });
      expect(second.code, second.stderr).toBe(2);
      expect(second.stderr).toMatch(/^error \(data-dir-locked\): .*witness\/state is in use by the witness process \d+/m);

      // Births through the exchange: the hub's checkpoints reach the witness, and the API serves them cosigned.
      const watch = path.join(root, 'parties', 'sta-11007007', 'watch');
      for (const s of makeScenarios({ births: 3, seed: 11, standesaemter: [standesamt], firstEntry: 700 })) dropBirth(watch, s);
      await until(() => witnessSize(root) > 0, { what: 'the first cosigned checkpoint', timeoutMs: 60_000 });
      let note = '';
      await until(async () => {
          const answer = await apiCheckpoint(root, apiPort);
          note = answer.body;
          return answer.status === 200 && cosigned(note).witnessLine && cosigned(note).size === witnessSize(root);
        }, { what: "the API's checkpoint with the witness's cosignature", timeoutMs: 60_000 });
      // kill -9 of the witness: `elfe start` starts it again with the same command; it takes over
      // its lock, starts from the size it cosigned, and the hub's next checkpoints reach it.
      const lockFile = path.join(root, 'witness', 'state', 'witness.lock');
      const pid = Number(readFileSync(lockFile, 'utf8'));
      expect(pidsWith(configFile)).toContain(pid);
      process.kill(pid, 'SIGKILL');
      await until(() => !processAlive(pid), { what: 'the witness gone', timeoutMs: 10_000 });
      // Read once it is down: until then it may still cosign a newer checkpoint.
      const before = witnessSize(root);
      await until(() => /took over the lock of .*witness\/state from the ended process/.test(start.output), { what: 'the witness back', timeoutMs: 60_000 });
      await until(() => new RegExp(`\\[witness\\] ready: .* for elfe-hub/log at size ${before};`, 'm').test(start.output), { what: 'the witness ready at the size it cosigned', timeoutMs: 30_000 });
      for (const s of makeScenarios({ births: 3, seed: 12, standesaemter: [standesamt], firstEntry: 800 })) dropBirth(watch, s);
      await until(() => witnessSize(root) > before, { what: 'a checkpoint cosigned after the restart', timeoutMs: 60_000 });
      await until(async () => cosigned((await apiCheckpoint(root, apiPort)).body).size === witnessSize(root), { what: 'the latest checkpoint cosigned', timeoutMs: 60_000 });
      expect(cosigned((await apiCheckpoint(root, apiPort)).body).witnessLine).toBe(true);
      expect(start.output).not.toMatch(/WITNESS REFUSED checkpoint \d+ \((fork|inconsistent|witness-ahead|bad-cosignature)\)/);
    } finally {
      await start.kill('SIGTERM');
    }
    await until(() => pidsWith(root).every((p) => !processAlive(p)), { what: 'every process stopped', timeoutMs: 30_000 });
    expect(existsSync(path.join(root, 'witness', 'state', 'witness.lock'))).toBe(false);
  });

  it('elfe hub start with the witness command the layout names: a checkpoint missed while the witness was down is sent again once it is back (kill -9, the same command)', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-witness-'));
    roots.push(root);
    const init = await runElfe(['exchange', 'init', '--data', root, '--nats-port', String(await freePort()), '--metrics-port', String(await freePort())], { timeoutMs: 120_000 });
    expect(init.code, init.stderr).toBe(0);
    const { run } = (JSON.parse(init.stdout) as { witness: { run: string } }).witness;
    const witness = new PartyProcess('witness', run.split(' ').slice(1));
    const hub = new PartyProcess('hub', ['hub', 'start', '--config', path.join(root, 'hub', 'config.json')]);
    const sta = path.join(root, 'parties', 'sta-11007007', 'config.json');
    // The Standesamt's submission (the pair), as `elfe standesamt submit` sends it.
    const submit = async (s: BirthScenario) => {
      const { notice, supplement } = birthXml(s);
      const base = path.join(root, baseNameOf(s));
      writeFileSync(`${base}.081020.xml`, notice);
      writeFileSync(`${base}.081021.xml`, supplement);
      const k = s.registration.registerKey;
      const register = `${k.standesamtsnummer}/${k.registerart}/${k.jahr}/${k.eintragsnummer}`;
      const answer = await runElfe(['standesamt', 'submit', `${base}.081020.xml`, '--with', `${base}.081021.xml`, '--register', register, '--config', sta], { timeoutMs: 60_000 });
      expect(answer.code, answer.stdout + answer.stderr).toBe(0);
    };
    try {
      await witness.ready(/^ready: witness /m, 60_000);
      await hub.ready(/^ready:/m, 120_000);
      const [a, b] = makeScenarios({ births: 2, seed: 21, standesaemter: [standesamt], firstEntry: 900 });
      await submit(a!);
      await until(() => witnessSize(root) > 0, { what: 'the first cosigned checkpoint', timeoutMs: 60_000 });
      // Read once it is down: until then it may still cosign the checkpoint of the routing decisions.
      await witness.kill('SIGKILL');
      const before = witnessSize(root);
      await submit(b!);
      await until(() => /WITNESS REFUSED checkpoint \d+ \(unreachable\)/.test(hub.output), { what: 'the hub notices the witness is down', timeoutMs: 30_000 });
      expect(witnessSize(root)).toBe(before);

      witness.start();
      await witness.ready(new RegExp(`^ready: witness .* at size ${before};`, 'm'), 60_000);
      expect(witness.output).toMatch(/took over the lock of .*witness\/state from the ended process \d+/);
      // Nothing new is submitted: the hub sends the missed checkpoint again by itself.
      await until(() => witnessSize(root) > before, { what: 'the missed checkpoint cosigned', timeoutMs: 90_000 });
      // Its own line about it (the state file can be written before the line reaches this process).
      await until(() => /cosigned 200 elfe-hub\/log: cosigned size \d+/.test(witness.output), { what: "the witness's line about the cosignature", timeoutMs: 30_000 });
    } finally {
      await hub.kill('SIGTERM');
      await witness.kill('SIGTERM');
    }
  });
});
