// Erasure, the whole story against real processes: a Standesamt registers a birth with its own
// command, the Meldebehörde sends the IdNr with its own, both agencies' connectors receive and
// acknowledge; then the case is erased on the RUNNING hub (`elfe erase` as the hub's operator,
// through the API), and a second case on the STOPPED hub's data directory. Afterwards a byte
// scan of every directory (the hub's, its nats store, the Standesamt's, the Meldebehörde's and
// the agencies') finds neither the register key nor the IdNr nor a name of those cases; the
// API answers 410; the Datenschutzcockpit counts the erased case and keeps only the protocol's
// fields; each agency confirmed the erasure with a signed receipt; the audit passes; another
// case is untouched.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRegisterKey, type BirthRegisteredData } from '../../contracts/index.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../../hub/src/demo/synthetic.ts';
import { birthXml } from '../support/births.ts';
import { startLiveExchange, type LiveExchange } from '../support/liveExchange.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { issueParty, type TestParty } from '../support/parties.ts';
import { runElfe } from '../support/processes.ts';
import { filesContaining } from '../support/scan.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;

/** A synthetic birth with distinctive names and a distinctive entry number, so a byte scan finds nothing else. */
function distinctive(s: BirthScenario, entry: string, tag: string): { scenario: BirthScenario; registration: BirthRegisteredData; needles: string[] } {
  const r = s.registration;
  const registration: BirthRegisteredData = {
    ...r,
    registerKey: { ...r.registerKey, eintragsnummer: entry },
    child: { ...r.child, name: { firstNames: [`Hildegunde${tag}`], familyName: `Quirinsdottir${tag}` } },
    parent1: { ...r.parent1, name: { firstNames: [`Eulalia${tag}`], familyName: `Quirinsdottir${tag}`, birthName: `Pfefferkorn${tag}` } },
    ...(r.parent2 ? { parent2: { ...r.parent2, name: { firstNames: [`Gottlieb${tag}`], familyName: `Quirinsdottir${tag}` } } } : {}),
    consent: { elterngeldstelle: true, auftragsnummer: `EG-ERASE-${tag}` },
  };
  return { scenario: s, registration, needles: [entry, `Hildegunde${tag}`, `Quirinsdottir${tag}`, `Eulalia${tag}`, `Pfefferkorn${tag}`, s.childIdNr, s.parent1IdNr] };
}

describe.skipIf(!natsAvailable)('erasure reaches everything, on the running hub and on the stopped one', () => {
  let x: LiveExchange;
  let cockpit: TestParty;
  const [s1, s2, s3] = makeScenarios({ births: 3, seed: 2323, standesaemter: [standesamt], firstEntry: 9100 });
  const running = distinctive(s1!, 'LOESCHLAUF', 'A');
  const stopped = distinctive(s2!, 'LOESCHRUHE', 'B');
  const kept = distinctive(s3!, 'BLEIBT', 'C');
  const staConfig = () => path.join(x.root, 'parties', 'sta-11007007', 'config.json');
  const mbhConfig = () => path.join(x.root, 'parties', 'mbh-demo', 'config.json');
  const hubConfig = () => path.join(x.hubDir, 'config.json');

  /** A GET/POST on the hub's API with a party's certificate. */
  const call = (method: string, url: string, who: { keyFile: string; certFile: string }, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown>; text: string }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: x.apiPort!, path: url, method, key: readFileSync(who.keyFile), cert: readFileSync(who.certFile), ca: readFileSync(path.join(x.caDir, 'ca.cert.pem')), headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: /json/.test(String(res.headers['content-type'])) ? (JSON.parse(text) as Record<string, unknown>) : {}, text }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const hubIdentity = () => ({ keyFile: path.join(x.hubDir, 'key.pem'), certFile: path.join(x.hubDir, 'cert.pem') });
  const partyIdentity = (name: string) => ({ keyFile: path.join(x.root, 'parties', name, 'key.pem'), certFile: path.join(x.root, 'parties', name, 'cert.pem') });

  /** Registers with the Standesamt's command, sends the IdNr with the Meldebehörde's. */
  async function register(b: ReturnType<typeof distinctive>) {
    const dir = path.join(x.root, 'outside', b.registration.registerKey.eintragsnummer);
    mkdirSync(dir, { recursive: true });
    const xml = birthXml(b.scenario, b.registration);
    writeFileSync(path.join(dir, 'n.xml'), xml.notice);
    writeFileSync(path.join(dir, 's.xml'), xml.supplement);
    const key = formatRegisterKey(b.registration.registerKey);
    const sent = await runElfe(['standesamt', 'submit', path.join(dir, 'n.xml'), '--with', path.join(dir, 's.xml'), '--register', key, '--config', staConfig()], { timeoutMs: 120_000 });
    expect(sent.code, sent.stdout + sent.stderr).toBe(0);
    const idnr = await runElfe(['meldebehoerde', 'idnr', '--register', key, '--child', b.scenario.childIdNr, '--parent', b.scenario.parent1IdNr, '--config', mbhConfig()], { timeoutMs: 120_000 });
    expect(idnr.code, idnr.stdout + idnr.stderr).toBe(0);
    return key;
  }

  const scanned = () => [x.hubDir, ...['sta-11007007', 'mbh-demo', 'egs-11000000', 'fka-ost', 'nats-server'].map((n) => path.join(x.root, 'parties', n))];
  const hits = (needles: string[]) => scanned().flatMap((dir) => filesContaining(dir, needles).map((h) => `${path.basename(dir)}/${h}`));

  beforeAll(async () => {
    x = await startLiveExchange('erasure-story', { api: true });
    // Answered entries leave the offices' outboxes at once (the default keeps them a day).
    for (const file of [staConfig(), mbhConfig()]) writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), outbox: { retentionHours: 0 } }, null, 2));
    cockpit = await issueParty(x.caDir, { role: 'cockpit', dvdv: 'dsc:test', name: 'Datenschutzcockpit (Test)' });
    await x.startConnector('egs-11000000');
    await x.startConnector('fka-ost');
  }, 180_000);

  afterAll(async () => {
    await x?.stop();
  });

  it('erased on the running hub and on the stopped one: nothing of the cases remains outside the sealed log; 410; the protocol counts it; recipients confirmed; the audit passes; others untouched', async () => {
    const keys = { running: await register(running), stopped: await register(stopped), kept: await register(kept) };
    // Both agencies received and acknowledged every case (Elterngeld with consent, Kindergeld with the IdNr).
    await until(() => x.log().filter((r) => r.type === 'DeliveryAcknowledged').length >= 6, { what: 'six deliveries acknowledged', timeoutMs: 90_000 });
    expect((await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.running)}`, hubIdentity())).status).toBe(200);

    // 1. On the running hub, as its operator.
    const erased = await runElfe(['erase', '--register', keys.running, '--config', hubConfig(), '--reason', 'Art. 17 DSGVO: Löschung auf Antrag', '--json'], { timeoutMs: 60_000 });
    expect(erased.code, erased.stdout + erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ erased: true });
    expect(x.hub.running).toBe(true);
    // Typed answers for what the hub cannot do: erased before, never registered.
    const again = await runElfe(['erase', '--register', keys.running, '--config', hubConfig(), '--json'], { timeoutMs: 60_000 });
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stdout).error.code).toBe('already-erased');
    const unknown = await runElfe(['erase', '--register', '11007007/G/2026/NIEDA', '--config', hubConfig(), '--json'], { timeoutMs: 60_000 });
    expect(JSON.parse(unknown.stdout).error.code).toBe('unknown-case');

    // The API: 410 for the operator and the owning Standesamt; unknown (404) to an agency.
    await until(async () => (await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.running)}`, hubIdentity())).status === 410, { what: 'the read side projected the erasure', timeoutMs: 30_000 });
    const gone = await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.running)}`, partyIdentity('sta-11007007'));
    expect(gone.status).toBe(410);
    expect(String(gone.json['detail'])).toMatch(/erased on .*Art\. 17 DSGVO/);
    expect((await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.running)}`, partyIdentity('egs-11000000'))).status).toBe(404);
    // The dashboard says "erased", with when and why.
    const page = await call('GET', `/dashboard/lookup?id=${encodeURIComponent(keys.running)}`, hubIdentity());
    expect(page.text).toMatch(/Dieser Geburtsfall wurde am .* gelöscht; Grund: Art\. 17 DSGVO/);
    // The hub's own log lines (its API served the register key in URLs above) never name it.
    expect(x.hub.output).not.toContain(running.registration.registerKey.eintragsnummer);
    // The Datenschutzcockpit: counted as erased, only the protocol's fields.
    const dsc = await call('POST', '/api/v1/transparency', cockpit, { idnr: running.scenario.childIdNr });
    expect(dsc.status).toBe(200);
    expect(dsc.json['erasedCases']).toBe(1);
    const exchanges = dsc.json['exchanges'] as { recipient: string; state: string; data: string; legalBasis: string }[];
    expect(exchanges.map((e) => [e.recipient, e.state]).sort()).toEqual([
      ['egs:11000000', 'erased'],
      ['fka:ost', 'erased'],
    ]);
    for (const e of exchanges) expect(e.data).not.toMatch(/Hildegunde|Quirinsdottir/);

    // Each agency confirmed the erasure with a signed receipt in the log.
    await until(() => x.log().filter((r) => /Erasure/.test(r.type) && r.type !== 'ErasureNoticeScheduled').length >= 2, { what: 'both agencies confirmed the erasure', timeoutMs: 90_000 });

    // The 410 names each recipient's confirmation.
    await until(async () => (String((await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.running)}`, hubIdentity())).json['detail']).match(/confirmed on/g) ?? []).length === 2, { what: 'both confirmations in the answer', timeoutMs: 30_000 });

    // 2. On the stopped hub's data directory.
    await x.hub.kill('SIGTERM');
    const offline = await runElfe(['erase', '--register', keys.stopped, '--data', x.hubDir, '--json'], { timeoutMs: 60_000 });
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
    x.hub.start();
    await x.hub.ready();
    await until(async () => (await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.stopped)}`, hubIdentity())).status === 410, { what: 'the stopped-hub erasure projected', timeoutMs: 60_000 });
    await until(() => x.log().filter((r) => /Erasure/.test(r.type) && r.type !== 'ErasureNoticeScheduled').length >= 4, { what: 'both agencies confirmed the second erasure', timeoutMs: 90_000 });

    // The offices' outboxes drop answered entries (retention 0 here), as their status shows.
    for (const [role, file] of [['standesamt', staConfig()], ['meldebehoerde', mbhConfig()]] as const) {
      const status = await runElfe([role, 'status', '--config', file, '--json']);
      expect(JSON.parse(status.stdout).entries).toEqual([]);
    }

    // Nothing of either erased case outside the sealed log, in any directory of the exchange.
    expect(hits([...running.needles, ...stopped.needles])).toEqual([]);
    // The kept case is untouched: still answered, its delivered files still there.
    expect((await call('GET', `/api/v1/lookup/${encodeURIComponent(keys.kept)}`, hubIdentity())).status).toBe(200);
    expect(filesContaining(path.join(x.root, 'parties', 'egs-11000000'), [`Hildegunde${'C'}`]).length).toBeGreaterThan(0);

    // The log still verifies.
    await x.hub.kill('SIGTERM');
    const audit = await runElfe(['audit', 'verify', '--data', x.hubDir, '--json'], { timeoutMs: 120_000 });
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true });
    x.hub.start();
    await x.hub.ready();
  });
});
