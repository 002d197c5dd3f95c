// Attacks on the NATS wire by holders of valid certificates, against the running exchange
// (`elfe exchange init`, `elfe hub start`, agency connectors as processes). They rely only on
// two rules: a party may not subscribe outside its own inbox prefix, and the hub answers a
// submission only on the signer's own inbox. "Nothing arrives" is asserted after a marker
// that must arrive after the attack, never after a fixed sleep.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { consumerName, deliveryStream } from '../../contracts/index.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { asProducer, birthOf, caseStream, codeOf, isPermissionError, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { submitSubjectFor } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007';
const BREMEN = 'sta-04011000';
const EGS_BERLIN = 'egs-11000000'; // connector runs from the start
const EGS_BREMEN = 'egs-04011000'; // connector stopped until 9a starts it

const purgeSubject = `$JS.API.STREAM.PURGE.${deliveryStream}`;

/** Messages and errors one subscription saw. */
function watch(nc: NatsConnection, subject: string) {
  const seen = { messages: [] as Msg[], errors: [] as Error[] };
  nc.subscribe(subject, {
    callback: (error, m) => {
      if (error) seen.errors.push(error);
      else seen.messages.push(m);
    },
  });
  return seen;
}
const describeMsgs = (msgs: readonly Msg[]) => msgs.map((m) => `${m.subject}: ${new TextDecoder().decode(m.data).slice(0, 120)}`);

describe.skipIf(!natsAvailable)('wire attacks by holders of valid certificates, against the running exchange', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let bremen: NatsConnection;

  beforeAll(async () => {
    ex = await startLiveExchange('wire');
    [berlin, bremen] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(BREMEN)]);
    await ex.startConnector(EGS_BERLIN);
  }, 120_000);
  afterAll(async () => {
    await ex?.stop();
  });

  const scheduledFor = (eintragsnummer: string, standesamtsnummer: string) =>
    ex.log().find((r) => r.stream === caseStream(birthOf(standesamtsnummer, eintragsnummer)) && r.type === 'DeliveryScheduled')?.event.data as { deliveryId: string } | undefined;
  const acknowledged = (deliveryId: string) => ex.log().some((r) => r.type === 'DeliveryAcknowledged' && (r.event.data as { deliveryId?: string }).deliveryId === deliveryId);

  it(`9a. a submission whose reply subject is ${purgeSubject} does not purge the deliveries: a delivery pending for a stopped connector still arrives`, async () => {
    // A delivery for the Bremen Elterngeldstelle, whose connector is not running: it waits in the stream.
    expect(codeOf(await submit(bremen, asProducer(registered(birthOf('04011000', 'W1')), ex.party(BREMEN)), ex.party(BREMEN).signer))).toBe('ok');
    await until(() => scheduledFor('W1', '04011000') !== undefined, { what: 'W1 scheduled' });
    const pending = scheduledFor('W1', '04011000')!.deliveryId;
    // The relay has published it once the stream holds as many messages as the log has deliveries
    // (read as the hub: an agency may not read the stream's info, only its own consumer's).
    const hubNc = await connect({ servers: ex.natsUrl, tls: { caFile: path.join(ex.caDir, 'ca.cert.pem'), certFile: path.join(ex.hubDir, 'cert.pem'), keyFile: path.join(ex.hubDir, 'key.pem') } });
    const agency = await jetstreamManager(hubNc);
    const scheduledCount = () => ex.log().filter((r) => r.type === 'DeliveryScheduled').length;
    await until(async () => (await agency.streams.info(deliveryStream)).state.messages >= scheduledCount(), { what: 'every scheduled delivery in the stream' });
    const messagesBefore = (await agency.streams.info(deliveryStream)).state.messages;

    // The attack, by another Standesamt: one submission that is not even JSON, one it signed for its own case.
    const attacker = await ex.connectAs(BERLIN);
    attacker.publish(submitSubjectFor(attacker), 'not json', { reply: purgeSubject });
    const own = asProducer(registered(birthOf('11007007', 'W1-attack')), ex.party(BERLIN));
    attacker.publish(submitSubjectFor(attacker), JSON.stringify({ payload: own, signature: ex.party(BERLIN).signer.sign(own) }), { reply: purgeSubject });
    await attacker.flush();
    // Marker: a submission the hub handles after the attack (same path as the signed one), answered.
    expect(codeOf(await submit(bremen, asProducer(registered(birthOf('04011000', 'W2')), ex.party(BREMEN)), ex.party(BREMEN).signer))).toBe('ok');

    // The stream still holds what it held.
    expect((await agency.streams.info(deliveryStream)).state.messages, 'messages in the delivery stream after the attack').toBeGreaterThanOrEqual(messagesBefore);
    // The connector starts and receives the pending delivery.
    await ex.startConnector(EGS_BREMEN);
    try {
      await until(() => acknowledged(pending), { what: 'the pending delivery W1 acknowledged by the connector started after the attack', timeoutMs: 20_000 });
    } catch (error) {
      const { state } = await agency.streams.info(deliveryStream);
      throw new Error(`${(error as Error).message}; the delivery stream held ${messagesBefore} messages before the attack, now ${state.messages} (first seq ${state.first_seq}, last seq ${state.last_seq})`);
    } finally {
      await hubNc.close();
    }
  });

  it('9b. a Standesamt that subscribes to _INBOX.> is refused or receives nothing of other parties\' traffic (replies, an agency\'s fetched deliveries)', async () => {
    // The attacker's connection uses the shared default inbox prefix on purpose.
    const attacker = await ex.connectAs(BREMEN, { inboxPrefix: '_INBOX' });
    const seen = watch(attacker, '_INBOX.>');
    await attacker.flush();
    // Traffic of others: another Standesamt's request and the hub's reply; the agency connector's fetch of the delivery it causes.
    expect(codeOf(await submit(berlin, asProducer(registered(birthOf('11007007', 'W3')), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    await until(() => scheduledFor('W3', '11007007') !== undefined, { what: 'W3 scheduled' });
    const deliveryId = scheduledFor('W3', '11007007')!.deliveryId;
    // Marker: the connector fetched the delivery, answered, and the hub logged the receipt.
    await until(() => acknowledged(deliveryId), { what: 'W3 acknowledged by the Berlin connector' });
    await attacker.flush().catch(() => undefined);
    const refused = seen.errors.some(isPermissionError);
    expect({ refused, leaked: refused ? [] : describeMsgs(seen.messages) }).toEqual({ refused: expect.any(Boolean), leaked: [] });
  });

  it('9c-1. a Standesamt cannot publish on another party\'s inbox (a forged reply)', async () => {
    const token = randomUUID().replaceAll('-', '');
    const victims = [ex.party(BERLIN), ex.party(EGS_BERLIN)];
    const victimConnections = await Promise.all(victims.map((v) => ex.connectAs(v.name)));
    const seen = victims.map((v, i) => watch(victimConnections[i]!, `${v.inboxPrefix}.${token}.>`));
    await Promise.all(victimConnections.map((nc) => nc.flush()));
    const attacker = await ex.connectAs(BREMEN);
    for (const v of victims) attacker.publish(`${v.inboxPrefix}.${token}.forged`, JSON.stringify({ ok: true, messageId: randomUUID(), position: 0, duplicate: false }));
    // Marker: the server has handled the attacker's publishes before this round trip ends; each victim's own round trip after it.
    await attacker.flush().catch(() => undefined);
    await Promise.all(victimConnections.map((nc) => nc.flush()));
    expect(seen.map((s) => describeMsgs(s.messages))).toEqual([[], []]);
  });

  /** Victims subscribed below their own inboxes; returns what each saw. */
  async function victimsListening(token: string) {
    const victims = [ex.party(BERLIN), ex.party(EGS_BERLIN)];
    const connections = await Promise.all(victims.map((v) => ex.connectAs(v.name)));
    const seen = victims.map((v, i) => watch(connections[i]!, `${v.inboxPrefix}.${token}.>`));
    await Promise.all(connections.map((nc) => nc.flush()));
    return { victims, seen, flush: () => Promise.all(connections.map((nc) => nc.flush())) };
  }
  /** Marker: the attacker's own registration (the path of the slowest attack message), answered on its own inbox. */
  const marker = async (eintragsnummer: string) =>
    expect(codeOf(await submit(bremen, asProducer(registered(birthOf('04011000', eintragsnummer)), ex.party(BREMEN)), ex.party(BREMEN).signer))).toBe('ok');

  it('9c-2. the hub does not answer a signed submission on another party\'s inbox when a Standesamt sets it as the reply subject', async () => {
    const token = randomUUID().replaceAll('-', '');
    const { victims, seen, flush } = await victimsListening(token);
    const attacker = ex.party(BREMEN);
    for (const [i, v] of victims.entries()) {
      const reply = (what: string) => ({ reply: `${v.inboxPrefix}.${token}.${what}` });
      const foreignCase = asProducer(registered(birthOf('11007007', `W4-foreign-${i}`)), attacker);
      bremen.publish(submitSubjectFor(bremen), JSON.stringify({ payload: foreignCase, signature: attacker.signer.sign(foreignCase) }), reply('not-case-owner'));
      const ownCase = asProducer(registered(birthOf('04011000', `W4-own-${i}`)), attacker);
      bremen.publish(submitSubjectFor(bremen), JSON.stringify({ payload: ownCase, signature: attacker.signer.sign(ownCase) }), reply('own-case'));
    }
    await bremen.flush();
    await marker('W4-marker');
    await flush();
    expect(seen.map((s) => describeMsgs(s.messages))).toEqual([[], []]);
  });

  it('9c-3. the hub does not answer an unverifiable submission (not JSON, bad signature) on another party\'s inbox: it has no signer whose inbox it could be', async () => {
    const token = randomUUID().replaceAll('-', '');
    const { victims, seen, flush } = await victimsListening(token);
    const attacker = ex.party(BREMEN);
    for (const v of victims) {
      const reply = (what: string) => ({ reply: `${v.inboxPrefix}.${token}.${what}` });
      bremen.publish(submitSubjectFor(bremen), 'not json', reply('malformed'));
      const event = asProducer(registered(birthOf('04011000', 'W5-forged')), attacker);
      bremen.publish(submitSubjectFor(bremen), JSON.stringify({ payload: { ...event, purpose: 'forged' }, signature: attacker.signer.sign(event) }), reply('signature-invalid'));
    }
    await bremen.flush();
    await marker('W5-marker');
    await flush();
    expect(seen.map((s) => describeMsgs(s.messages))).toEqual([[], []]);
  });

  it('9d. an agency cannot read the delivery stream\'s info (every recipient\'s counts by subject filter), list or read the streams; its own consumer still works', async () => {
    const agencyNc = await ex.connectAs(EGS_BERLIN);
    const jsm = await jetstreamManager(agencyNc);
    const refusal = (p: Promise<unknown>) => p.then(() => 'answered', (error: unknown) => (isPermissionError(error) ? 'permission' : `other: ${String(error)}`));
    expect(await refusal(jsm.streams.info(deliveryStream, { subjects_filter: '>' })), 'STREAM.INFO with a subject filter').toBe('permission');
    expect(await refusal(agencyNc.request(`$JS.API.STREAM.INFO.${deliveryStream}`, JSON.stringify({ subjects_filter: 'elfe.delivery.>' }), { timeout: 5000 })), 'raw STREAM.INFO').toBe('permission');
    expect(await refusal(agencyNc.request('$JS.API.STREAM.LIST', '', { timeout: 5000 })), 'STREAM.LIST').toBe('permission');
    expect(await refusal(agencyNc.request(`$JS.API.STREAM.MSG.GET.${deliveryStream}`, JSON.stringify({ seq: 1 }), { timeout: 5000 })), 'STREAM.MSG.GET').toBe('permission');
    // Its own consumer: its info, and the connector (its own process) receives and acknowledges a new delivery.
    const own = await jetstream(agencyNc).consumers.get(deliveryStream, consumerName(ex.party(EGS_BERLIN).dvdv));
    expect((await own.info()).name).toBe(consumerName(ex.party(EGS_BERLIN).dvdv));
    expect(codeOf(await submit(berlin, asProducer(registered(birthOf('11007007', 'W6')), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    await until(() => scheduledFor('W6', '11007007') !== undefined, { what: 'W6 scheduled' });
    await until(() => acknowledged(scheduledFor('W6', '11007007')!.deliveryId), { what: 'W6 acknowledged by the Berlin connector' });
  });
});
