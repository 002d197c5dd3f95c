// Who may assign a child's IdNr, against the running exchange (`elfe exchange init`, `elfe hub
// start`, the Familienkasse's connector as its own process): only the Meldebehörde the hub's
// table names for the case's Standesamt (here: Bremen's Standesämter → `mbh:bremen`, every
// other → `mbh:demo`). A foreign Meldebehörde is refused (`not-responsible`), a second,
// different IdNr is a `conflict`; both are security events naming the certificate. The same
// IdNr again is a duplicate; an explicit correction re-delivers to the Familienkasse.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { childIdNr, childIdNrCorrected, registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { issueParty } from '../support/parties.ts';
import { asProducer, birthOf, caseStream, codeOf, securityRows, startLiveExchange, submit, type LiveExchange, type LogRow } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007';
const BREMEN = 'sta-04011000';
const MELDE = 'mbh-demo'; // responsible for every Standesamt but Bremen's
const MELDE_BREMEN = 'mbh-bremen'; // responsible for Bremen's (prefix 04) only
const FKA = 'fka-ost'; // Berlin's Familienkasse: its connector runs as a process

const firstIdNr = idNrFrom('3657426180');
const otherIdNr = idNrFrom('5928374615');

describe.skipIf(!natsAvailable)('the responsible Meldebehörde, against the running exchange', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let bremen: NatsConnection;
  let melde: NatsConnection;
  let meldeBremen: NatsConnection;
  const P = (name: string) => ex.party(name);

  beforeAll(async () => {
    ex = await startLiveExchange('authority', {
      beforeHub: async (root) => {
        // A second Meldebehörde with a valid certificate of the exchange CA, and the hub's table naming it for Bremen.
        const dir = path.join(root, 'parties', MELDE_BREMEN);
        await issueParty(path.join(root, 'ca'), { role: 'meldebehoerde', dvdv: 'mbh:bremen', name: 'Meldebehörde Bremen' }, { dir });
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ role: 'meldebehoerde', dvdv: 'mbh:bremen', name: 'Meldebehörde Bremen', dir: '.' }));
        const hubConfig = path.join(root, 'hub', 'config.json');
        const config = JSON.parse(readFileSync(hubConfig, 'utf8')) as Record<string, unknown>;
        writeFileSync(hubConfig, JSON.stringify({ ...config, meldebehoerden: { rules: [{ standesamtPrefix: '04', meldebehoerde: 'mbh:bremen' }], default: 'mbh:demo' } }));
      },
    });
    [berlin, bremen, melde, meldeBremen] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(BREMEN), ex.connectAs(MELDE), ex.connectAs(MELDE_BREMEN)]);
    await ex.startConnector(FKA);
  }, 120_000);
  afterAll(async () => {
    await ex?.stop();
  });

  const rowsOf = (stream: string): LogRow[] => ex.log().filter((r) => r.stream === stream);
  const head = () => ex.log().at(-1)?.position ?? -1;
  const securitySince = (since: number) => securityRows(ex.log().filter((r) => r.position > since));
  const idnrRows = (stream: string) => rowsOf(stream).filter((r) => r.type === 'ChildIdNrAssigned');
  const fkDeliveries = (stream: string) =>
    rowsOf(stream)
      .filter((r) => r.type === 'DeliveryScheduled' && (r.event.data['recipient'] as { role: string }).role === 'familienkasse')
      .map((r) => r.event.data as { deliveryId: string; kind: string; correction?: { corrects: string } });
  const idnrOf = (nc: NatsConnection, name: string, event: object) => submit(nc, asProducer(event, P(name)), P(name).signer);

  it('a foreign Meldebehörde may not assign the IdNr (not-responsible), a security event naming its certificate; the responsible one may', async () => {
    const b = birthOf('11007007', 'M1');
    const hb = birthOf('04011000', 'M1');
    expect(codeOf(await submit(berlin, asProducer(registered(b), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(bremen, asProducer(registered(hb), P(BREMEN)), P(BREMEN).signer))).toBe('ok');
    const before = head();
    // Bremen's Meldebehörde for a Berlin child, the demo Meldebehörde for a Bremen child: both refused.
    expect(codeOf(await idnrOf(meldeBremen, MELDE_BREMEN, childIdNr(b, firstIdNr)))).toBe('not-responsible');
    expect(codeOf(await idnrOf(melde, MELDE, childIdNr(hb, firstIdNr)))).toBe('not-responsible');
    expect(idnrRows(caseStream(b))).toEqual([]);
    expect(idnrRows(caseStream(hb))).toEqual([]);
    const security = securitySince(before);
    expect(security.map((s) => s.security.code)).toEqual(['not-responsible', 'not-responsible']);
    expect(security[0]!.security.subject).toMatchObject({ dvdv: 'mbh:bremen', role: 'meldebehoerde', certificateSerial: P(MELDE_BREMEN).serial, verified: true });
    expect(security[1]!.security.subject).toMatchObject({ dvdv: 'mbh:demo', role: 'meldebehoerde', certificateSerial: P(MELDE).serial, verified: true });
    expect(JSON.stringify(security)).not.toContain(firstIdNr);
    // The responsible ones.
    expect(codeOf(await idnrOf(melde, MELDE, childIdNr(b, firstIdNr)))).toBe('ok');
    expect(codeOf(await idnrOf(meldeBremen, MELDE_BREMEN, childIdNr(hb, firstIdNr)))).toBe('ok');
    expect(idnrRows(caseStream(b))).toHaveLength(1);
    expect(idnrRows(caseStream(hb))).toHaveLength(1);
  });

  it('a second, different IdNr is refused as a conflict and recorded as a security event; the same IdNr again is a duplicate', async () => {
    const b = birthOf('11007007', 'M2');
    expect(codeOf(await submit(berlin, asProducer(registered(b), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    const first = await idnrOf(melde, MELDE, childIdNr(b, firstIdNr));
    expect(first).toMatchObject({ ok: true, duplicate: false });
    const before = head();
    // The same IdNr again, in a new message: a duplicate of the first, nothing new in the log.
    const again = await idnrOf(melde, MELDE, childIdNr(b, firstIdNr));
    expect(again).toMatchObject({ ok: true, duplicate: true, position: first.ok ? first.position : -1 });
    // A different one, without saying it is a correction: refused.
    const second = await idnrOf(melde, MELDE, childIdNr(b, otherIdNr));
    expect(codeOf(second)).toBe('conflict');
    expect(idnrRows(caseStream(b)).map((r) => r.event.data['childIdNr'])).toEqual([firstIdNr]);
    const security = securitySince(before);
    expect(security.map((s) => s.security.code)).toEqual(['idnr-conflict']);
    expect(security[0]!.security).toMatchObject({ messageType: 'ChildIdNrAssigned', subject: { dvdv: 'mbh:demo', certificateSerial: P(MELDE).serial, verified: true } });
    expect(JSON.stringify(security)).not.toContain(otherIdNr);
    expect(JSON.stringify(security)).not.toContain(firstIdNr);
  });

  it('an explicit IdNr correction is logged with its reason and re-delivers to the Familienkasse, as a correction of its delivery', async () => {
    const b = birthOf('11007007', 'M3');
    const stream = caseStream(b);
    expect(codeOf(await submit(berlin, asProducer(registered(b), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    expect(codeOf(await idnrOf(melde, MELDE, childIdNr(b, firstIdNr)))).toBe('ok');
    await until(() => fkDeliveries(stream).length === 1, { what: 'the Familienkasse\'s first delivery' });
    const initial = fkDeliveries(stream)[0]!;
    // Only the responsible Meldebehörde may correct either.
    expect(codeOf(await idnrOf(meldeBremen, MELDE_BREMEN, childIdNrCorrected(b, otherIdNr, 'IdNr berichtigt')))).toBe('not-responsible');
    expect(codeOf(await idnrOf(melde, MELDE, childIdNrCorrected(b, otherIdNr, 'IdNr berichtigt (Zahlendreher)')))).toBe('ok');
    expect(idnrRows(stream).map((r) => [r.event.data['childIdNr'], r.event.data['correction']])).toEqual([
      [firstIdNr, undefined],
      [otherIdNr, { reason: 'IdNr berichtigt (Zahlendreher)' }],
    ]);
    await until(() => fkDeliveries(stream).length === 2, { what: 'the Familienkasse\'s corrected delivery' });
    const correction = fkDeliveries(stream)[1]!;
    expect(correction).toMatchObject({ kind: 'correction', correction: { corrects: initial.deliveryId } });
    // No second delivery to the Elterngeldstelle: its data set has no IdNr.
    expect(rowsOf(stream).filter((r) => r.type === 'DeliveryScheduled' && (r.event.data['recipient'] as { role: string }).role === 'elterngeldstelle').map((r) => r.event.data['kind'])).toEqual(['initial']);
    // The Familienkasse's connector wrote it, with the new IdNr and the reason.
    const inbox = path.join(P(FKA).dir, 'inbox');
    const file = path.join(inbox, `${correction.deliveryId}.json`);
    await until(() => existsSync(file), { what: 'the correction in the Familienkasse\'s inbox' });
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(written)).toContain(otherIdNr);
    expect(written).toMatchObject({ kind: 'correction', correction: { corrects: initial.deliveryId, reason: 'IdNr berichtigt (Zahlendreher)' } });
    expect(readdirSync(inbox)).toContain(`${initial.deliveryId}.json`);
  });
});
