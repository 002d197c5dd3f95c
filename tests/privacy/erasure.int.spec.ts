// Signatures kept and erasure, against a real exchange: the hub runs as its own process,
// Standesamt and Meldebehörde submit signed events, agencies acknowledge. Then, on the stopped
// hub's data directory: `elfe audit verify` re-checks every kept signature (a genuine run
// passes; an entry the hub made up fails at its position), `elfe erase` destroys one case's
// key, after which no file of the hub's directory holds that case's names or IdNrs in plain
// text and the audit still says intact.
import { cpSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { openHubLog } from '../../hub/src/log/openHubLog.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { runElfe } from '../support/processes.ts';
import { filesContaining } from '../support/scan.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007';
const MELDE = 'mbh-demo';

const erasedBirth = birthOf('11007007', 'E1', {
  child: { name: { firstNames: ['Hildegunde', 'Walburga'], familyName: 'Quirinsdottir' }, sex: 'w', birth: { date: '2026-11-01', time: '07:45', exact: true }, placeOfBirth: { city: 'Bremen' } } as never,
  parent1: { name: { firstNames: ['Eulalia'], familyName: 'Quirinsdottir', birthName: 'Pfefferkorn' }, birthDate: '1990-02-03', sex: 'w', idnr: idNrFrom('2956381045') } as never,
  parent2: { name: { firstNames: ['Gottlieb'], familyName: 'Schnabelhuber' }, birthDate: '1989-04-05', sex: 'm' } as never,
});
const erasedChildIdNr = idNrFrom('5928374615');
const keptBirth = birthOf('11007007', 'E2', {
  child: { name: { firstNames: ['Rosamunde'], familyName: 'Kleinschmidtke' }, sex: 'w', birth: { date: '2026-11-02', exact: false }, placeOfBirth: { city: 'Bremen' } } as never,
});
/** What identifies the erased case's people. */
const personalDataOfErased = ['Hildegunde', 'Walburga', 'Quirinsdottir', 'Eulalia', 'Pfefferkorn', 'Gottlieb', 'Schnabelhuber', erasedBirth.parent1.idnr!, erasedChildIdNr];

describe.skipIf(!natsAvailable)('signatures kept; erasure that keeps the log verifiable', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let melde: NatsConnection;

  beforeAll(async () => {
    ex = await startLiveExchange('erase');
    [berlin, melde] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(MELDE)]);
    await ex.startConnector('egs-11000000');
    await ex.startConnector('fka-ost');
    for (const b of [erasedBirth, keptBirth]) expect(codeOf(await submit(berlin, asProducer(registered(b), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(melde, asProducer(childIdNr(erasedBirth, erasedChildIdNr), ex.party(MELDE)), ex.party(MELDE).signer))).toBe('ok');
    // Both agencies acknowledged the erased case's deliveries (Elterngeld, then Kindergeld once the IdNr came).
    await until(() => ex.log().filter((r) => r.type === 'DeliveryAcknowledged').length >= 3, { what: 'three deliveries acknowledged', timeoutMs: 60_000 });
    await ex.stop();
  }, 180_000);
  afterAll(async () => {
    await ex?.stop();
  });

  const audit = async (hubDir: string, ...extra: string[]) => {
    const run = await runElfe(['audit', 'verify', '--data', hubDir, '--json', ...extra]);
    return { code: run.code, report: JSON.parse(run.stdout) as Record<string, unknown>, stderr: run.stderr };
  };

  it('a genuine run passes: every kept signature of submissions and receipts checks against the CA and CRL', async () => {
    const { code, report, stderr } = await audit(ex.hubDir);
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({ ok: true, firstBadPosition: null });
    // 3 submissions, 3 receipts; their certificates kept once each.
    expect(report.signatures).toMatchObject({ checked: 6, erased: 0 });
  });

  it('an entry the hub made up without a party\'s signature fails the audit at its position', async () => {
    const copy = path.join(ex.root, 'forged');
    cpSync(ex.hubDir, path.join(copy, 'hub'), { recursive: true });
    const hubDir = path.join(copy, 'hub');
    // Appended as the hub appends (tree and checkpoints updated), but without any signature.
    const log = await openHubLog({ dataDir: hubDir, checkpoint: { everyEntries: 1, everyMs: 0 } });
    const forged = registered(birthOf('11007007', 'FORGED'));
    const { positions } = await log.append('birth-forged', [toRecord(asProducer(forged, ex.party(BERLIN)), { signerDvdv: 'psw:11007007', receivedAt: new Date().toISOString() })]);
    await log.close();
    const { code, report } = await audit(hubDir, '--ca', path.join(ex.caDir, 'ca.cert.pem'), '--crl', path.join(ex.caDir, 'crl.pem'));
    expect(code).toBe(1);
    expect(report).toMatchObject({ ok: false, code: 'unsigned', firstBadPosition: positions[0] });
  });

  it('elfe erase destroys the case key: no file of the hub holds the case\'s names or IdNrs, and the audit stays intact', async () => {
    // Before: the names are nowhere in plain text either (the log holds ciphertext only).
    expect(filesContaining(ex.hubDir, personalDataOfErased)).toEqual([]);
    const erased = await runElfe(['erase', '--register', '11007007/G/2026/E1', '--data', ex.hubDir, '--reason', 'Art. 17 DSGVO: Löschung auf Antrag', '--json']);
    expect(erased.code, erased.stdout + erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ erased: true });
    expect(filesContaining(ex.hubDir, personalDataOfErased)).toEqual([]);
    // The kept case still reads; the erased one no longer.
    const { code, report, stderr } = await audit(ex.hubDir);
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({ ok: true });
    // The erased case's 2 submissions and 2 receipts are "erased, not checkable"; the kept case's registration and receipt still check.
    expect(report.signatures).toMatchObject({ checked: 2, erased: 4 });
    // Erasing again is refused as unknown, and leaves the log as it is.
    const again = await runElfe(['erase', '--register', '11007007/G/2026/E1', '--data', ex.hubDir, '--json']);
    expect(again.code).toBe(2);
  });
});
