// The exchange as operators run it: `elfe exchange init` lays out the CA and every party
// with its own key; the hub, each agency's connector and the Standesamt's watch directory run
// as separate processes with their own commands. Each kind of process is killed with SIGKILL
// in the middle of a burst and started again with the same command: nothing is lost, nothing
// is duplicated at any inbox, every delivery is acknowledged, and the log verifies.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptPayload, formatRegisterKey } from '../../contracts/index.ts';
import { makeScenarios, type BirthScenario } from '../../hub/src/demo/synthetic.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { birthXml, dropBirth } from '../support/births.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { runExchange, type RunningExchange } from '../../hub/src/runner/exchangeRunner.ts';
import { PartyProcess, filesIn, pidsWith, processAlive, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;
const egsName = 'egs-11000000';
const fkaName = 'fka-ost';

/** The names in a registration (child's, parents'), each word by itself. */
function personalNames(r: BirthScenario['registration']): string[] {
  const out: string[] = [];
  const visit = (v: unknown, key = ''): void => {
    if (typeof v === 'string' && /name/i.test(key)) out.push(...v.split(/\s+/));
    else if (Array.isArray(v)) v.forEach((x) => visit(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(x, k);
  };
  visit({ child: r.child, parent1: (r as Record<string, unknown>)['parent1'], parent2: (r as Record<string, unknown>)['parent2'] });
  return out;
}

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe.skipIf(!natsAvailable)('parties as separate processes', () => {
  let root: string;
  let hub: PartyProcess;
  const connectors = new Map<string, PartyProcess>();
  let watcher: PartyProcess;
  const party = (name: string) => path.join(root, 'parties', name);
  const watchDir = () => path.join(party(`sta-${standesamt.standesamtsnummer}`), 'watch');
  /** The deliveries in an agency's inbox (a correction's `.meta.json` beside its 131011 is no delivery of its own). */
  const inbox = (name: string) => filesIn(path.join(party(name), 'inbox'), /^(?!.*\.meta\.json$).*\.(xml|json)$/);
  const all: BirthScenario[] = [];

  let exchange: RunningExchange | undefined;

  beforeAll(async () => {
    exchange = await runExchange({ label: 'parties', api: true, start: ['hub'] });
    root = exchange.root;
    hub = exchange.process('hub')!;
    const agencies = exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse');
    for (const p of agencies) connectors.set(p.name, await exchange.start(p.name));
    watcher = await exchange.start(`sta-${standesamt.standesamtsnummer}`);
  });

  afterAll(async () => {
    await exchange?.stop();
  });

  const consented = (list: readonly BirthScenario[]) => list.filter((s) => s.registration.consent.elterngeldstelle).length;
  const batch = (n: number, seed: number) => {
    const list = makeScenarios({ births: n, seed, standesaemter: [standesamt], firstEntry: 100_000 + all.length });
    all.push(...list);
    return list;
  };
  const doneCount = () => filesIn(path.join(watchDir(), 'done'), /\.081020\.xml$/).length;

  /** Drops a batch, lets `progress` pass `after`, then kills and restarts via `fault`. */
  async function burstWithFault(seed: number, progress: () => number, fault: () => Promise<void>) {
    const before = progress();
    const births = batch(80, seed);
    births.forEach((s) => dropBirth(watchDir(), s));
    await until(() => progress() >= before + 5, { what: 'progress before the fault', timeoutMs: 60_000 });
    await fault();
  }

  it('kill -9 of the watcher, the hub, the nats-server and a connector mid-burst: nothing lost, nothing twice, all acknowledged, the log verifies', async () => {
    // The Standesamt's submitter.
    await burstWithFault(1, doneCount, () => watcher.crashAndRestart());
    // The hub (its nats-server child goes with it and is replaced at the next start).
    await burstWithFault(2, () => inbox(egsName).length, () => hub.crashAndRestart());
    // The nats-server alone: the hub starts it again.
    await burstWithFault(3, () => inbox(egsName).length, async () => {
      const pid = Number(readFileSync(path.join(root, 'hub', 'nats', 'nats-server.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      await until(() => !processAlive(pid), { what: 'nats-server gone', timeoutMs: 10_000 });
      await until(() => /nats-server exited/.test(hub.output), { what: 'hub noticed', timeoutMs: 10_000 });
    });
    // One agency's connector.
    await burstWithFault(4, () => inbox(egsName).length, () => connectors.get(egsName)!.crashAndRestart());

    // The Meldebehörde sends IdNrs for three births, each with its own command.
    const meldeConfig = path.join(party('mbh-demo'), 'config.json');
    for (const s of all.slice(0, 3)) {
      const sent = await runElfe(['meldebehoerde', 'idnr', '--register', formatRegisterKey(s.registration.registerKey), '--child', s.childIdNr, '--parent', s.parent1IdNr, '--config', meldeConfig, '--json']);
      expect(sent.code, sent.stdout + sent.stderr).toBe(0);
      expect(JSON.parse(sent.stdout.trim().split('\n').pop()!)).toMatchObject({ accepted: true });
    }
    // The Standesamt corrects one of them (a first name, § 47 PStG) with its own command.
    const fixed = all.slice(0, 3).find((s) => s.registration.consent.elterngeldstelle)!;
    expect(fixed, 'a birth with consent among the first three').toBeDefined();
    const reason = 'Berichtigung (§ 47 PStG): Vorname des Kindes';
    const correctedXml = birthXml(fixed, { ...fixed.registration, child: { ...fixed.registration.child, name: { ...fixed.registration.child.name, firstNames: ['Mila'] } } });
    const correctionDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-correction-'));
    writeFileSync(path.join(correctionDir, '081020.xml'), correctedXml.notice);
    writeFileSync(path.join(correctionDir, '081021.xml'), correctedXml.supplement);
    const correctedRegister = formatRegisterKey(fixed.registration.registerKey);
    const sentCorrection = await runElfe(['standesamt', 'correct', path.join(correctionDir, '081020.xml'), '--with', path.join(correctionDir, '081021.xml'), '--register', correctedRegister, '--reason', reason, '--config', path.join(party(`sta-${standesamt.standesamtsnummer}`), 'config.json'), '--json']);
    expect(sentCorrection.code, sentCorrection.stdout + sentCorrection.stderr).toBe(0);
    expect(JSON.parse(sentCorrection.stdout.trim().split('\n').pop()!)).toMatchObject({ accepted: true });

    await until(() => doneCount() === all.length, { what: 'every birth submitted', timeoutMs: 120_000 });
    await until(() => inbox(egsName).length >= consented(all) + 1 && inbox(fkaName).length >= 4, { what: 'every delivery in its inbox', timeoutMs: 120_000 });
    // Nothing more arrives (redeliveries after the restarts are absorbed).
    await until(async () => {
      const a = inbox(egsName).length;
      await new Promise((r) => setTimeout(r, 1000));
      return inbox(egsName).length === a;
    }, { what: 'inboxes stable', timeoutMs: 30_000 });
    expect(inbox(egsName)).toHaveLength(consented(all) + 1);
    expect(inbox(fkaName)).toHaveLength(4);
    expect(filesIn(path.join(watchDir(), 'failed'))).toEqual([]);

    // A receipt can still be on its way to the log when its inbox file exists: wait until the
    // log holds an answer for every delivery it scheduled, then stop the hub.
    await until(async () => {
      const reading = openCaseLog(openSqliteEventStore(logFiles(path.join(root, 'hub')).events), path.join(root, 'hub'));
      try {
        const events = (await collect(reading.readAll())).map(fromRecord);
        const answered = new Set(events.flatMap((e) => (e?.type === 'DeliveryAcknowledged' || e?.type === 'DeliveryRejected' || e?.type === 'DeliveryDeadLettered' ? [e.data.deliveryId] : [])));
        const scheduled = events.flatMap((e) => (e?.type === 'DeliveryScheduled' ? [e.data.deliveryId] : []));
        return scheduled.length > 0 && scheduled.every((id) => answered.has(id));
      } finally {
        await reading.close();
      }
    }, { what: 'every delivery answered in the log', timeoutMs: 60_000 });

    // The hub's and a connector's logs: JSON lines, one per event, without names or IdNrs.
    await hub.kill('SIGTERM');
    const personal = all.flatMap((s) => [s.childIdNr, s.parent1IdNr, ...personalNames(s.registration)]).filter((v): v is string => typeof v === 'string' && v.length > 3);
    for (const p of [hub, connectors.get(egsName)!]) {
      const lines = p.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines.length, `${p.name} logged`).toBeGreaterThan(0);
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        expect(entry, line).toMatchObject({ level: expect.any(Number), time: expect.any(Number), component: expect.any(String), event: expect.any(String) });
      }
      for (const v of personal) expect(p.stderr.includes(v), `${p.name}'s log contains ${v}`).toBe(false);
    }
    const store = openCaseLog(openSqliteEventStore(logFiles(path.join(root, 'hub')).events), path.join(root, 'hub'));
    try {
      const events = (await collect(store.readAll())).map(fromRecord);
      const scheduled = events.flatMap((e) => (e?.type === 'DeliveryScheduled' ? [e] : []));
      const keys = scheduled.map((d) => `${formatRegisterKey(d.data.registerKey)}/${d.data.recipient.dvdv}/${d.data.kind}`);
      expect(new Set(keys).size).toBe(keys.length);
      const registered = events.filter((e) => e?.type === 'BirthRegistered');
      expect(registered).toHaveLength(all.length);
      const acknowledged = new Set(events.flatMap((e) => (e?.type === 'DeliveryAcknowledged' ? [e.data.deliveryId] : [])));
      for (const d of scheduled) expect(acknowledged.has(d.data.deliveryId)).toBe(true);
      expect(events.some((e) => e?.type === 'DeliveryRejected' || e?.type === 'DeliveryDeadLettered')).toBe(false);
      // Each inbox holds exactly the deliveries addressed to it.
      expect(new Set(inbox(egsName).map((f) => f.replace(/\.xml$/, '')))).toEqual(new Set(scheduled.filter((d) => d.data.recipient.dvdv === 'egs:11000000').map((d) => d.data.deliveryId)));

      // The correction is visible as one: its 131011 names the first message to the Elterngeldstelle
      // (vorgangsidentifikation), the reason lies beside it; the Familienkasse's JSON says
      // kind correction with the same reference and reason. In the log, the reason is a JWE.
      const ofCase = (dvdv: string) => scheduled.filter((d) => formatRegisterKey(d.data.registerKey) === correctedRegister && d.data.recipient.dvdv === dvdv);
      for (const [name, dvdv] of [[egsName, 'egs:11000000'], [fkaName, 'fka:ost']] as const) {
        const [first, correction] = ofCase(dvdv);
        expect([first?.data.kind, correction?.data.kind], dvdv).toEqual(['initial', 'correction']);
        expect(correction!.data.correction).toEqual({ corrects: first!.data.deliveryId, reasonJwe: expect.any(String) });
        expect(JSON.stringify(correction)).not.toContain('Vorname');
        const dir = path.join(party(name), 'inbox');
        if (name === egsName) {
          const xml = readFileSync(path.join(dir, `${correction!.data.deliveryId}.xml`), 'utf8');
          expect(xml).toContain(`<ereignis.zeichen>Berichtigung-${first!.data.deliveryId}</ereignis.zeichen>`);
          expect(readFileSync(path.join(dir, `${first!.data.deliveryId}.xml`), 'utf8')).not.toContain('vorgangsidentifikation');
          expect(JSON.parse(readFileSync(path.join(dir, `${correction!.data.deliveryId}.meta.json`), 'utf8'))).toEqual({ deliveryId: correction!.data.deliveryId, kind: 'correction', corrects: first!.data.deliveryId, reason });
        } else {
          const json = JSON.parse(readFileSync(path.join(dir, `${correction!.data.deliveryId}.json`), 'utf8')) as Record<string, unknown>;
          expect(json).toMatchObject({ kind: 'correction', correction: { corrects: first!.data.deliveryId, reason } });
          expect(JSON.parse(readFileSync(path.join(dir, `${first!.data.deliveryId}.json`), 'utf8'))).not.toHaveProperty('correction');
        }
      }

      // The hub's directory holds no private key but its own, and none of them opens a payload.
      const privateKeys = walk(path.join(root, 'hub')).filter((f) => statSync(f).size < 20_000 && /PRIVATE KEY/.test(readFileSync(f, 'latin1')));
      expect(privateKeys.map((f) => path.relative(path.join(root, 'hub'), f)).sort()).toEqual(['api/key.pem', 'hub.key.pem', 'ingress/key.pem', 'key.pem']);
      const hubCert = new X509Certificate(readFileSync(path.join(root, 'hub', 'cert.pem')));
      expect(hubCert.checkPrivateKey(createPrivateKey(readFileSync(path.join(root, 'hub', 'key.pem'))))).toBe(true);
      const jwe = scheduled[0]!.data.payloadJwe!;
      expect(jwe).toBeTruthy();
      for (const f of privateKeys) {
        const opened = await decryptPayload(jwe, createPrivateKey(readFileSync(f)), scheduled[0]!.data.deliveryId).catch(() => ({ success: false as const }));
        expect(opened.success).toBe(false);
      }
      const recipient = scheduled[0]!.data.recipient.dvdv.replace(':', '-');
      const own = await decryptPayload(jwe, createPrivateKey(readFileSync(path.join(party(recipient), 'key.pem'))), scheduled[0]!.data.deliveryId);
      expect(own.success).toBe(true);
    } finally {
      await store.close();
    }
    const audit = await runElfe(['audit', 'verify', '--data', path.join(root, 'hub')]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    hub.start();
    await hub.ready();
  });

  it('no party directory holds another party\'s private key, and the CA holds only its own', () => {
    const keyFilesOf = (dir: string) => walk(dir).filter((f) => statSync(f).size < 20_000 && /PRIVATE KEY/.test(readFileSync(f, 'latin1')));
    expect(keyFilesOf(path.join(root, 'ca')).map((f) => path.basename(f))).toEqual(['ca.key.pem']);
    for (const name of readdirSync(path.join(root, 'parties'))) {
      expect(keyFilesOf(party(name)).map((f) => path.relative(party(name), f))).toEqual(['key.pem']);
      expect(statSync(path.join(party(name), 'key.pem')).mode & 0o077).toBe(0);
    }
  });
});

describe.skipIf(!natsAvailable)('elfe start, killed with SIGKILL', () => {
  it('leaves no child behind, and the same command brings the exchange back', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-start-'));
    const args = ['start', '--data', root, '--nats-port', String(await freePort()), '--metrics-port', String(await freePort()), '--api-port', String(await freePort())];
    const first = new PartyProcess('start', args);
    await first.ready(/\[hub\] ready:/m, 120_000);
    expect(first.output).toMatch(/^dashboard: https:\/\/127\.0\.0\.1:\d+\/ \(client certificate: .*aud-local\/cert\.pem, key .*aud-local\/key\.pem, CA .*ca\.cert\.pem\)$/m);
    await first.ready(/\[sta-11007007\] ready:/m, 60_000);
    const children = pidsWith(root);
    expect(children.length).toBeGreaterThanOrEqual(3);
    await first.kill('SIGKILL');
    // Every child (connectors, watchers, the hub, its nats-server) ends with its parent (each
    // shuts down cleanly once its pipe closes, which takes a while on a loaded machine).
    await until(() => pidsWith(root).every((pid) => !processAlive(pid)), { what: 'children gone', timeoutMs: 90_000 });

    const second = new PartyProcess('start', args);
    try {
      await second.ready(/\[hub\] ready:/m, 120_000);
      await second.ready(/\[egs-11000000\] ready:/m, 60_000);
      await second.ready(/\[sta-11007007\] ready:/m, 60_000);
      const births = makeScenarios({ births: 10, seed: 77, standesaemter: [standesamt], firstEntry: 500 });
      const watch = path.join(root, 'parties', 'sta-11007007', 'watch');
      births.forEach((s) => dropBirth(watch, s));
      const want = births.filter((s) => s.registration.consent.elterngeldstelle).length;
      await until(() => filesIn(path.join(root, 'parties', egsName, 'inbox'), /\.xml$/).length === want, { what: 'deliveries after the restart', timeoutMs: 60_000 });
    } finally {
      await second.kill('SIGTERM');
    }
    await until(() => pidsWith(root).every((pid) => !processAlive(pid)), { what: 'children stopped', timeoutMs: 30_000 });
  });

  it('a party killed with SIGKILL is started again by elfe start, and the exchange goes on', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-start-'));
    const start = new PartyProcess('start', ['start', '--data', root, '--nats-port', String(await freePort()), '--metrics-port', String(await freePort()), '--api-port', String(await freePort())]);
    try {
      await start.ready(/\[egs-11000000\] ready:/m, 180_000);
      await start.ready(/\[sta-11007007\] ready:/m, 60_000);
      // The Elterngeldstelle's connector, found by its configuration file on its command line.
      const connectorOf = () => pidsWith(path.join(root, 'parties', egsName, 'config.json')).filter(processAlive);
      const [killed] = connectorOf();
      expect(killed).toBeDefined();
      process.kill(killed!, 'SIGKILL');
      // Births dropped while the connector is dead reach its inbox only if it comes back.
      const births = makeScenarios({ births: 6, seed: 78, standesaemter: [standesamt], firstEntry: 700 });
      births.forEach((s) => dropBirth(path.join(root, 'parties', 'sta-11007007', 'watch'), s));
      const want = births.filter((s) => s.registration.consent.elterngeldstelle).length;
      expect(want).toBeGreaterThan(0);
      await until(() => filesIn(path.join(root, 'parties', egsName, 'inbox'), /\.xml$/).length === want, { what: `${want} deliveries in the Elterngeldstelle's inbox`, timeoutMs: 90_000, observe: () => start.output.slice(-1500) });
      const now = connectorOf();
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(killed);
      expect(start.running).toBe(true);
    } finally {
      await start.kill('SIGTERM');
    }
    await until(() => pidsWith(root).every((pid) => !processAlive(pid)), { what: 'children stopped', timeoutMs: 30_000 });
  });
});
