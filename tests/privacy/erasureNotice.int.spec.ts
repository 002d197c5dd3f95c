// Recipients are told (Art. 19 DSGVO), against a real exchange: a birth with consent and an
// IdNr is delivered to the Elterngeldstelle (131011) and the Familienkasse (JSON) and
// acknowledged; a second case too. With the hub stopped, `elfe erase` erases the first case;
// the hub started again sends each recipient a signed erasure notice over the delivery path.
// Each connector removes the case's files from its inbox and its receipts from its state,
// leaves a notice file without personal data, and signs a receipt of the erasure, which the
// hub logs as `ErasureConfirmed` (its signature checked again by `elfe audit verify`). The
// other case's files stay as they were.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { runElfe } from '../support/processes.ts';
import { inReceiptFiles, receiptIdsOf } from '../support/receipts.ts';
import { filesBelow, filesContaining } from '../support/scan.ts';
import { asProducer, birthOf, caseStream, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007';
const MELDE = 'mbh-demo';
const EGS = 'egs-11000000';
const FKA = 'fka-ost';

const erasedBirth = birthOf('11007007', 'N1', {
  child: { name: { firstNames: ['Adelgunde', 'Ottilie'], familyName: 'Wendelstein' }, sex: 'w', birth: { date: '2026-11-03', time: '06:15', exact: true }, placeOfBirth: { city: 'Bremen' } } as never,
  parent1: { name: { firstNames: ['Waltraud'], familyName: 'Wendelstein', birthName: 'Kirschgarten' }, birthDate: '1991-02-03', sex: 'w', idnr: idNrFrom('8923574615') } as never,
  parent2: { name: { firstNames: ['Hartmut'], familyName: 'Tannenzapf' }, birthDate: '1988-04-05', sex: 'm' } as never,
});
const erasedChildIdNr = idNrFrom('6928374615');
const keptBirth = birthOf('11007007', 'N2', {
  child: { name: { firstNames: ['Friedlinde'], familyName: 'Moosbacher' }, sex: 'w', birth: { date: '2026-11-04', exact: false }, placeOfBirth: { city: 'Bremen' } } as never,
});
const keptChildIdNr = idNrFrom('7928364615');
/** What identifies the erased case and its people. */
const personalDataOfErased = ['Adelgunde', 'Ottilie', 'Wendelstein', 'Waltraud', 'Kirschgarten', 'Hartmut', 'Tannenzapf', erasedBirth.parent1.idnr!, erasedChildIdNr, '11007007/G/2026/N1'];

interface Scheduled {
  deliveryId: string;
  dvdv: string;
}

describe.skipIf(!natsAvailable)('recipients are told of an erasure (Art. 19 DSGVO)', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let melde: NatsConnection;
  let erasedDeliveries: Scheduled[] = [];
  let keptDeliveries: Scheduled[] = [];
  /** The kept case's inbox files and their bytes, before the erasure. */
  const keptFiles = new Map<string, string>();
  const inbox = (name: string) => path.join(ex.party(name).dir, 'inbox');

  beforeAll(async () => {
    ex = await startLiveExchange('notice');
    [berlin, melde] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(MELDE)]);
    await ex.startConnector(EGS);
    await ex.startConnector(FKA);
    for (const b of [erasedBirth, keptBirth]) expect(codeOf(await submit(berlin, asProducer(registered(b), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(melde, asProducer(childIdNr(erasedBirth, erasedChildIdNr), ex.party(MELDE)), ex.party(MELDE).signer))).toBe('ok');
    expect(codeOf(await submit(melde, asProducer(childIdNr(keptBirth, keptChildIdNr), ex.party(MELDE)), ex.party(MELDE).signer))).toBe('ok');
    // Both cases delivered to both agencies and acknowledged.
    await until(() => ex.log().filter((r) => r.type === 'DeliveryAcknowledged').length >= 4, { what: 'four deliveries acknowledged', timeoutMs: 60_000 });
    const scheduledOf = (stream: string) =>
      ex
        .log()
        .filter((r) => r.stream === stream && r.type === 'DeliveryScheduled')
        .map((r) => ({ deliveryId: r.event.data.deliveryId as string, dvdv: (r.event.data.recipient as { dvdv: string }).dvdv }));
    erasedDeliveries = scheduledOf(caseStream(erasedBirth));
    keptDeliveries = scheduledOf(caseStream(keptBirth));
    expect(new Set(erasedDeliveries.map((d) => d.dvdv))).toEqual(new Set([ex.party(EGS).dvdv, ex.party(FKA).dvdv]));
    expect(new Set(keptDeliveries.map((d) => d.dvdv))).toEqual(new Set([ex.party(EGS).dvdv, ex.party(FKA).dvdv]));
    // The erased case's hand-off copies are there before: a 131011 and a Kindergeld JSON.
    expect(existsSync(path.join(inbox(EGS), `${erasedDeliveries.find((d) => d.dvdv === ex.party(EGS).dvdv)!.deliveryId}.xml`))).toBe(true);
    expect(existsSync(path.join(inbox(FKA), `${erasedDeliveries.find((d) => d.dvdv === ex.party(FKA).dvdv)!.deliveryId}.json`))).toBe(true);
    for (const name of [EGS, FKA]) {
      for (const file of filesBelow(inbox(name))) if (keptDeliveries.some((d) => path.basename(file).startsWith(d.deliveryId))) keptFiles.set(file, readFileSync(file, 'utf8'));
    }
    expect(keptFiles.size).toBe(2);

    // Erased on the stopped hub, then the exchange runs again.
    await ex.stop();
    const erased = await runElfe(['erase', '--register', '11007007/G/2026/N1', '--data', ex.hubDir, '--reason', 'Art. 17 DSGVO: Löschung auf Antrag', '--json']);
    expect(erased.code, erased.stdout + erased.stderr).toBe(0);
    ex.hub.start();
    await ex.hub.ready();
    await ex.startConnector(EGS);
    await ex.startConnector(FKA);
    await until(() => ex.log().filter((r) => r.type === 'ErasureConfirmed').length >= 2, { what: 'both recipients confirmed the erasure', timeoutMs: 60_000 });
  }, 240_000);
  afterAll(async () => {
    await ex?.stop();
  });

  it('the erasure names the recipients and their deliveries (no personal data), and each was sent a notice', () => {
    const rows = ex.log();
    const caseErased = rows.find((r) => r.type === 'CaseErased')!;
    const recipients = caseErased.event.data.recipients as { dvdv: string; deliveryIds: string[] }[];
    expect(recipients.map((r) => r.dvdv).sort()).toEqual([ex.party(EGS).dvdv, ex.party(FKA).dvdv].sort());
    expect(recipients.flatMap((r) => r.deliveryIds).sort()).toEqual(erasedDeliveries.map((d) => d.deliveryId).sort());
    const notices = rows.filter((r) => r.type === 'ErasureNoticeScheduled');
    expect(notices).toHaveLength(2);
    for (const r of [caseErased, ...notices]) for (const p of personalDataOfErased) expect(r.json).not.toContain(p);
  });

  it("each agency's inbox no longer holds the case's files, but a notice file without personal data", () => {
    for (const name of [EGS, FKA]) {
      const dvdv = ex.party(name).dvdv;
      const files = readdirSync(inbox(name));
      const ids = erasedDeliveries.filter((d) => d.dvdv === dvdv).map((d) => d.deliveryId);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) expect(files.filter((f) => f.startsWith(id)), name).toEqual([]);
      const confirmed = ex.log().find((r) => r.type === 'ErasureConfirmed' && r.event.data.recipient === dvdv)!;
      const noticeFile = path.join(inbox(name), `erasure-${String(confirmed.event.data.noticeId)}.json`);
      const notice = JSON.parse(readFileSync(noticeFile, 'utf8')) as Record<string, unknown>;
      expect(notice).toMatchObject({ type: 'elfe-erasure-notice', recipient: dvdv, erasedDeliveries: ids, reason: 'Art. 17 DSGVO: Löschung auf Antrag' });
      expect((notice.removedFiles as string[]).length).toBeGreaterThan(0);
      // Nothing of the case's people or register key anywhere in the agency's directory (inbox and state).
      expect(filesContaining(ex.party(name).dir, personalDataOfErased), name).toEqual([]);
      // The connector's state about those deliveries is gone: their receipts' rows, and their
      // ids from the raw bytes of receipts.sqlite and its WAL (the kept case's receipt stays).
      const stateDir = path.join(ex.party(name).dir, 'state');
      const kept = keptDeliveries.filter((d) => d.dvdv === dvdv).map((d) => d.deliveryId);
      expect(kept.length).toBeGreaterThan(0);
      expect(receiptIdsOf(stateDir), name).toEqual([...kept].sort());
      expect(inReceiptFiles(stateDir, [...ids, ...kept]), name).toEqual(kept);
    }
  });

  it("the other case's files are untouched", () => {
    for (const [file, text] of keptFiles) expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it("each agency's signed receipt of the erasure is in the hub's log, and the audit still passes", async () => {
    const db = new Database(logFiles(ex.hubDir).events, { readonly: true, fileMustExist: true });
    const rows = db.prepare("SELECT data, metadata FROM events WHERE type = 'ErasureConfirmed'").all() as { data: string; metadata: string }[];
    db.close();
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      const event = JSON.parse(r.data) as { data: { recipient: string; noticeId: string; deliveryIds: string[] } };
      const signed = (JSON.parse(r.metadata) as { signed: { payload: Record<string, unknown>; signature: { value: string } } }).signed;
      expect(signed.payload).toMatchObject({ type: 'erasure-receipt', noticeId: event.data.noticeId, recipient: event.data.recipient, status: 'erased' });
      expect(signed.signature.value.length).toBeGreaterThan(0);
      expect([...event.data.deliveryIds].sort()).toEqual(erasedDeliveries.filter((d) => d.dvdv === event.data.recipient).map((d) => d.deliveryId).sort());
    }
    await ex.stop();
    const run = await runElfe(['audit', 'verify', '--data', ex.hubDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ ok: true, firstBadPosition: null });
    // Kept case: registration, IdNr, two receipts; both erasure receipts; the erased case's four are not checkable.
    expect(report.signatures).toMatchObject({ checked: 6, erased: 4 });
  });
});
