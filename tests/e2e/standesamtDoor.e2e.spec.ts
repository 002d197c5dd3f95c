// The Standesamt's door as a Standesamt's system uses it: files dropped into the watch
// directory of a running exchange (the hub and the watcher as their own processes, started
// with their own commands). Every case of a lost or swallowed birth is tried, and the outcome
// is checked against the hub's log (read read-only), never against the watcher's own words:
// `done/` holds exactly the births the hub registered, every other file ends in `failed/`
// with the reason, and nothing is overwritten.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRegisterKey, type BirthRegisteredData } from '../../contracts/index.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../../hub/src/demo/synthetic.ts';
import { birthXml } from '../support/births.ts';
import { startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { PartyProcess, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;
const pairWindowSeconds = 2;

describe.skipIf(!natsAvailable)("the Standesamt's drop folder against a running exchange", () => {
  let x: LiveExchange;
  let watcher: PartyProcess;
  let watch: string;
  let configFile: string;
  const scenarios: BirthScenario[] = makeScenarios({ births: 12, seed: 2121, standesaemter: [standesamt], firstEntry: 7001 });
  let next = 0;
  const take = () => scenarios[next++]!;

  /** Writes a file as a Standesamt's system must: under a temporary name, then renamed. */
  const drop = (name: string, content: string) => {
    writeFileSync(path.join(watch, `${name}.tmp`), content);
    renameSync(path.join(watch, `${name}.tmp`), path.join(watch, name));
  };
  const base = (key: string) => key.replaceAll('/', '_');
  const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const done = () => files(path.join(watch, 'done'));
  const failed = () => files(path.join(watch, 'failed'));
  const errorOf = (name: string) => JSON.parse(readFileSync(path.join(watch, 'failed', name), 'utf8')) as { error: { code: string; message: string }; hint: string };
  /** The registrations and corrections the hub's log holds for a register key. */
  const logged = (key: string) =>
    x
      .log()
      .filter((r) => r.type === 'BirthRegistered' || r.type === 'BirthRegistrationCorrected')
      .filter((r) => formatRegisterKey((r.event.data as { registerKey: BirthRegisteredData['registerKey'] }).registerKey) === key);

  beforeAll(async () => {
    x = await startLiveExchange('door');
    configFile = path.join(x.root, 'parties', 'sta-11007007', 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, watch: { pairWindowSeconds, intervalMs: 200 }, startupTimeoutSeconds: 5 }, null, 2));
    watch = path.join(x.root, 'parties', 'sta-11007007', 'watch');
    watcher = new PartyProcess('watch', ['standesamt', 'watch', watch, '--config', configFile]);
    await watcher.ready();
  });

  afterAll(async () => {
    await watcher?.kill('SIGTERM');
    await x?.stop();
  });

  it('done/ only for what the hub registered; refusals, re-drops, late and lone files, the future and strange names end in failed/ with the reason', async () => {
    // 1. A pair, the 081021 first: registered, in done/.
    const a = take();
    const aKey = formatRegisterKey(a.registration.registerKey);
    const aXml = birthXml(a);
    drop(`${base(aKey)}.081021.xml`, aXml.supplement);
    drop(`${base(aKey)}.081020.xml`, aXml.notice);

    // 2. Another office's register key (Berlin-Mitte's number) in this office's folder: refused by the hub.
    const foreign = take();
    const foreignKey = `11000001/G/2026/${foreign.registration.registerKey.eintragsnummer}`;
    const foreignXml = birthXml(foreign);
    drop(`${base(foreignKey)}.081021.xml`, foreignXml.supplement);
    drop(`${base(foreignKey)}.081020.xml`, foreignXml.notice);

    // 3. The same XML as (1) under a corrected entry number: another birth case, not swallowed.
    const renumberedKey = `11007007/G/2026/${Number(a.registration.registerKey.eintragsnummer) + 500}`;
    drop(`${base(renumberedKey)}.081021.xml`, aXml.supplement);
    drop(`${base(renumberedKey)}.081020.xml`, aXml.notice);

    // 4. A birth in 2062, the message written in 2062 too.
    const future = take();
    const futureKey = formatRegisterKey(future.registration.registerKey);
    const in2062 = { ...future.registration, child: { ...future.registration.child, birth: { ...future.registration.child.birth, date: '2062-03-01' } } };
    const futureXml = birthXml(future, in2062);
    drop(`${base(futureKey)}.081021.xml`, futureXml.supplement.replace(/<erstellungszeitpunkt>[^<]+</, '<erstellungszeitpunkt>2062-03-01T10:00:00.000+01:00<'));
    drop(`${base(futureKey)}.081020.xml`, futureXml.notice.replace(/<erstellungszeitpunkt>[^<]+</, '<erstellungszeitpunkt>2062-03-01T10:00:00.000+01:00<'));

    // 5. Names that are no birth, and files still being written (left alone).
    drop('notes.txt', 'not a birth');
    drop('11007007_G_2026_1.xml', aXml.notice);
    writeFileSync(path.join(watch, '11007007_G_2026_9.081020.xml.tmp'), 'being written');
    writeFileSync(path.join(watch, '.11007007_G_2026_9.081020.xml'), 'being written');
    writeFileSync(path.join(watch, '11007007_G_2026_9.081020.xml~'), 'editor backup');

    // 6. A 081021 alone, with no 081020 now or later.
    const lone = take();
    const loneKey = formatRegisterKey(lone.registration.registerKey);
    drop(`${base(loneKey)}.081021.xml`, birthXml(lone).supplement);

    await until(() => done().includes(`${base(aKey)}.081020.xml`) && done().includes(`${base(renumberedKey)}.081020.xml`), { what: 'the pairs registered', timeoutMs: 60_000 });
    await until(() => failed().some((f) => f.startsWith(base(foreignKey))) && failed().some((f) => f.startsWith(base(futureKey))), { what: 'the refusals', timeoutMs: 60_000 });
    await until(() => failed().includes(`${base(loneKey)}.error.json`), { what: 'the lone 081021 past the window', timeoutMs: 60_000 });
    await until(() => failed().includes('notes.txt.error.json') && failed().includes('11007007_G_2026_1.xml.error.json'), { what: 'unknown names reported', timeoutMs: 30_000 });

    // The hub's log, not the watcher: (1) and (3) registered as two cases, (2) and (4) not at all.
    expect(logged(aKey)).toHaveLength(1);
    expect(logged(renumberedKey)).toHaveLength(1);
    expect(logged(foreignKey)).toHaveLength(0);
    expect(logged(futureKey)).toHaveLength(0);
    expect(errorOf(`${base(foreignKey)}.error.json`)).toMatchObject({ error: { code: 'not-case-owner' } });
    expect(errorOf(`${base(foreignKey)}.error.json`).hint).toMatch(/Standesamtsnummer/);
    expect(errorOf(`${base(futureKey)}.error.json`).error.code).toBe('date-in-future');
    expect(errorOf(`${base(loneKey)}.error.json`).error.code).toBe('supplement-without-notice');
    expect(errorOf('notes.txt.error.json').error.code).toBe('unknown-file-name');
    // Files being written stay where they are.
    expect(files(watch).filter((f) => f !== 'done' && f !== 'failed').sort()).toEqual(['.11007007_G_2026_9.081020.xml', '11007007_G_2026_9.081020.xml.tmp', '11007007_G_2026_9.081020.xml~']);

    // The hub says the same about 2062 to a Standesamt that skips its own check: the same code.
    const sta = x.party('sta-11007007');
    const nc = await x.connectAs('sta-11007007');
    const signed2062 = {
      messageId: crypto.randomUUID(),
      type: 'BirthRegistered',
      schemaVersion: 1,
      occurredAt: new Date().toISOString(),
      producer: { dvdv: sta.dvdv, name: sta.signer.identity.name, role: 'standesamt' },
      legalBasis: '§ 21 PStG',
      purpose: 'Beurkundung der Geburt',
      correlationId: crypto.randomUUID(),
      data: in2062,
    };
    const hubAnswer = await submit(nc, signed2062, sta.signer);
    expect(hubAnswer.ok ? 'ok' : hubAnswer.error.code).toBe('date-in-future');

    // 7. A changed re-drop under (1)'s name: refused as a conflict, pointing to `standesamt correct`; the original stays.
    const originalNotice = readFileSync(path.join(watch, 'done', `${base(aKey)}.081020.xml`), 'utf8');
    const changed = birthXml(a, { ...a.registration, child: { ...a.registration.child, name: { ...a.registration.child.name, firstNames: ['Gerlinde'] } } });
    drop(`${base(aKey)}.081021.xml`, changed.supplement);
    drop(`${base(aKey)}.081020.xml`, changed.notice);
    await until(() => failed().includes(`${base(aKey)}.error.json`), { what: 'the changed re-drop refused', timeoutMs: 60_000 });
    expect(errorOf(`${base(aKey)}.error.json`).error.code).toBe('conflict');
    expect(errorOf(`${base(aKey)}.error.json`).hint).toMatch(/elfe standesamt correct/);
    expect(readFileSync(path.join(watch, 'done', `${base(aKey)}.081020.xml`), 'utf8')).toBe(originalNotice);
    expect(logged(aKey)).toHaveLength(1);

    // 8. The very same files again: the same registration (a duplicate), under a numbered name.
    drop(`${base(aKey)}.081021.xml`, aXml.supplement);
    drop(`${base(aKey)}.081020.xml`, aXml.notice);
    await until(() => done().includes(`${base(aKey)}.081020.2.xml`), { what: 'the re-drop settled', timeoutMs: 60_000 });
    expect(readFileSync(path.join(watch, 'done', `${base(aKey)}.081020.xml`), 'utf8')).toBe(originalNotice);
    expect(logged(aKey)).toHaveLength(1);

    // 9. A 081020 whose 081021 comes after the window: registered alone, then the parents' data joins as a correction.
    const late = take();
    const lateKey = formatRegisterKey(late.registration.registerKey);
    const lateXml = birthXml(late);
    drop(`${base(lateKey)}.081020.xml`, lateXml.notice);
    await until(() => done().includes(`${base(lateKey)}.081020.xml`), { what: 'the 081020 registered alone', timeoutMs: 60_000 });
    expect(logged(lateKey).map((r) => r.type)).toEqual(['BirthRegistered']);
    expect((logged(lateKey)[0]!.event.data as BirthRegisteredData).consent.elterngeldstelle).toBe(false);
    drop(`${base(lateKey)}.081021.xml`, lateXml.supplement);
    await until(() => done().includes(`${base(lateKey)}.081021.xml`), { what: 'the late 081021 joined', timeoutMs: 60_000 });
    const lateEntries = logged(lateKey);
    expect(lateEntries.map((r) => r.type)).toEqual(['BirthRegistered', 'BirthRegistrationCorrected']);
    const corrected = lateEntries[1]!.event.data as { registration: BirthRegisteredData; reason: string };
    expect(corrected.registration.consent).toEqual(late.registration.consent);
    expect(corrected.reason).toMatch(/081021/);

    // 10. The hub is down: the files wait (not in done/), the watcher says it waits; done/ only after the hub's answer.
    await x.hub.kill('SIGKILL');
    const down = take();
    const downKey = formatRegisterKey(down.registration.registerKey);
    const downXml = birthXml(down);
    drop(`${base(downKey)}.081021.xml`, downXml.supplement);
    drop(`${base(downKey)}.081020.xml`, downXml.notice);
    await until(() => /"event":"watch\.awaiting-hub"/.test(watcher.stderr), { what: 'the watcher says it waits for the hub', timeoutMs: 60_000 });
    expect(done().some((f) => f.startsWith(base(downKey)))).toBe(false);
    expect(files(watch)).toContain(`${base(downKey)}.081020.xml`);
    // The outbox, as the clerk reads it, says pending.
    const pending = await runElfe(['standesamt', 'status', '--config', configFile, '--register', downKey, '--json']);
    expect(pending.code, pending.stderr).toBe(0);
    expect(JSON.parse(pending.stdout).entries.map((e: { status: string }) => e.status)).toEqual(['pending']);
    x.hub.start();
    await x.hub.ready();
    await until(() => done().includes(`${base(downKey)}.081020.xml`), { what: 'registered once the hub is back', timeoutMs: 90_000 });
    expect(logged(downKey)).toHaveLength(1);

    // Every dropped file ended in done/ or failed/; done/ holds exactly what the hub registered from this office.
    expect(files(watch).filter((f) => !['done', 'failed'].includes(f) && !f.endsWith('.tmp') && !f.startsWith('.') && !f.endsWith('~'))).toEqual([]);
    const registeredHere = new Set(
      x
        .log()
        .filter((r) => r.type === 'BirthRegistered' && r.event.producer?.dvdv === 'psw:11007007')
        .map((r) => base(formatRegisterKey((r.event.data as BirthRegisteredData).registerKey))),
    );
    const inDone = new Set(done().map((f) => f.replace(/\.08102[01](\.\d+)?\.xml$/, '')));
    expect([...inDone].sort()).toEqual([...registeredHere].sort());

    // `elfe standesamt status --json`: the clerk's view of the outbox, with codes and the hub's routing words.
    const status = await runElfe(['standesamt', 'status', '--config', configFile, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const outbox = JSON.parse(status.stdout) as { counts: Record<string, number>; entries: { registerKey: string; status: string; code: string | null; routing: { role: string; status: string }[] | null }[] };
    expect(outbox.counts.pending).toBe(0);
    expect(outbox.entries.find((e) => e.registerKey === foreignKey)).toMatchObject({ status: 'refused', code: 'not-case-owner' });
    const aEntry = outbox.entries.find((e) => e.registerKey === aKey && e.status === 'accepted')!;
    expect(aEntry.routing?.map((r) => r.role).sort()).toEqual(['elterngeldstelle', 'familienkasse']);
    expect(aEntry.routing?.find((r) => r.role === 'familienkasse')?.status).toBe('waiting-for-idnr');
    // The outbox holds names and IdNrs: private to the office.
    const outboxFiles = readdirSync(path.dirname(configFile)).filter((f) => f.startsWith('outbox.sqlite'));
    expect(outboxFiles).toContain('outbox.sqlite');
    for (const f of outboxFiles) expect((statSync(path.join(path.dirname(configFile), f)).mode & 0o777).toString(8), f).toBe('600');
  });

  it('the commands report in the hub\'s terms and are idempotent: run again after an unclear answer, the same registration, exit 0; other content is a conflict that points to correct', async () => {
    const b = take();
    const key = formatRegisterKey(b.registration.registerKey);
    const dir = path.join(x.root, 'cli-files');
    mkdirSync(dir, { recursive: true });
    const xml = birthXml(b);
    writeFileSync(path.join(dir, 'n.xml'), xml.notice);
    writeFileSync(path.join(dir, 's.xml'), xml.supplement);
    const submitArgs = ['standesamt', 'submit', path.join(dir, 'n.xml'), '--with', path.join(dir, 's.xml'), '--register', key, '--config', configFile];

    // The hub is down: not answered, said so, exit 75; the submission waits in the outbox.
    await x.hub.kill('SIGKILL');
    const unclear = await runElfe(submitArgs, { timeoutMs: 120_000 });
    expect(unclear.code, unclear.stdout + unclear.stderr).toBe(75);
    expect(unclear.stdout).toMatch(/not answered yet/);
    expect(logged(key)).toHaveLength(0);
    x.hub.start();
    await x.hub.ready();

    // Run again: registered, with where the hand-offs stand, in words (or already registered:
    // the running watcher shares the outbox and may have sent the waiting entry first).
    const first = await runElfe(submitArgs, { timeoutMs: 120_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^(already )?registered( \\(the same submission\\))?: ${key}, log position \\d+; .*Familienkasse[^;]*: waits for the IdNr`, 'm'));
    expect(first.stdout).not.toMatch(/delivered/);
    // And again: the same registration, exit 0, nothing new in the log.
    const again = await runElfe([...submitArgs, '--json'], { timeoutMs: 120_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!)).toMatchObject({ accepted: true, duplicate: true, registerKey: key });
    expect(logged(key)).toHaveLength(1);

    // Other content under the registered key: a conflict that says how to correct, exit 2.
    const changed = birthXml(b, { ...b.registration, child: { ...b.registration.child, name: { ...b.registration.child.name, firstNames: ['Hedwig'] } } });
    writeFileSync(path.join(dir, 'n2.xml'), changed.notice);
    writeFileSync(path.join(dir, 's2.xml'), changed.supplement);
    const conflict = await runElfe(['standesamt', 'submit', path.join(dir, 'n2.xml'), '--with', path.join(dir, 's2.xml'), '--register', key, '--config', configFile], { timeoutMs: 120_000 });
    expect(conflict.code, conflict.stdout + conflict.stderr).toBe(2);
    expect(conflict.stdout).toMatch(/^refused \(conflict\)/m);
    expect(conflict.stdout).toMatch(/what to do: .*elfe standesamt correct/);
    expect(logged(key)).toHaveLength(1);

    // A withdrawal and an IdNr, each run twice: both runs exit 0, each fact once in the log.
    const mbhConfig = path.join(x.root, 'parties', 'mbh-demo', 'config.json');
    for (let i = 0; i < 2; i++) {
      const w = await runElfe(['standesamt', 'withdraw', '--register', key, '--config', configFile], { timeoutMs: 120_000 });
      expect(w.code, w.stdout + w.stderr).toBe(0);
      expect(w.stdout).toMatch(i === 0 ? /^consent withdrawal registered/m : /^already consent withdrawal registered|^consent withdrawal registered/m);
      const idnr = await runElfe(['meldebehoerde', 'idnr', '--register', key, '--child', b.childIdNr, '--parent', b.parent1IdNr, '--config', mbhConfig], { timeoutMs: 120_000 });
      expect(idnr.code, idnr.stdout + idnr.stderr).toBe(0);
    }
    const kinds = x
      .log()
      .filter((r) => ['ParentalConsentWithdrawn', 'ChildIdNrAssigned'].includes(r.type))
      .filter((r) => formatRegisterKey((r.event.data as { registerKey: BirthRegisteredData['registerKey'] }).registerKey) === key)
      .map((r) => r.type)
      .sort();
    expect(kinds).toEqual(['ChildIdNrAssigned', 'ParentalConsentWithdrawn']);
    // A different IdNr is a conflict; as an explicit correction it is registered and re-delivered as a correction.
    const otherIdNr = scenarios[scenarios.length - 1]!.childIdNr;
    const different = await runElfe(['meldebehoerde', 'idnr', '--register', key, '--child', otherIdNr, '--parent', b.parent1IdNr, '--config', mbhConfig], { timeoutMs: 120_000 });
    expect(different.code, different.stdout + different.stderr).toBe(2);
    expect(different.stdout).toMatch(/^refused \(conflict\)/m);
    const corrected = await runElfe(['meldebehoerde', 'idnr', '--register', key, '--child', otherIdNr, '--parent', b.parent1IdNr, '--correct', 'Berichtigung der IdNr durch das BZSt', '--config', mbhConfig], { timeoutMs: 120_000 });
    expect(corrected.code, corrected.stdout + corrected.stderr).toBe(0);
    expect(corrected.stdout).toMatch(/^IdNr registered: .*Familienkasse[^;]*: scheduled \(correction\)/m);
    // The Meldebehörde's outbox, as its clerk reads it.
    const mbhStatus = await runElfe(['meldebehoerde', 'status', '--config', mbhConfig, '--register', key, '--json']);
    expect(mbhStatus.code, mbhStatus.stderr).toBe(0);
    expect(JSON.parse(mbhStatus.stdout).entries.map((e: { status: string; type: string; code: string | null }) => [e.type, e.status, e.code])).toEqual([
      ['ChildIdNrAssigned', 'accepted', null],
      ['ChildIdNrAssigned', 'refused', 'conflict'],
      ['ChildIdNrAssigned', 'accepted', null],
    ]);
  });
});
