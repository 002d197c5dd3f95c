// The attack suite against the running exchange: `elfe exchange init`, `elfe hub start` and
// agency connectors as their own processes; the attacker holds a VALID certificate of the
// exchange (a party's own key.pem and cert.pem) and talks TLS to the hub's nats-server like
// that party. Each attack asserts the typed refusal in the hub's answer and that the log holds
// nothing of it but the security event. The log is read read-only while the hub runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { hubDerivedUuid, receiptSubject, receivedHashOf, SubmissionReplySchema, type SubmissionReply } from '../../contracts/index.ts';
import { childIdNr, corrected, registered, withdrawn } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import {
  asProducer,
  birthOf,
  caseStream,
  codeOf,
  distinctiveFirstName,
  isPermissionError,
  securityRows,
  startLiveExchange,
  submit,
  type LiveExchange,
  type LogRow,
} from '../support/liveExchange.ts';
import { submitSubjectFor } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007'; // owns register 11007007
const BREMEN = 'sta-04011000'; // owns register 04011000: the attacker in most attacks
const MELDE = 'mbh-demo';
const EGS_BERLIN = 'egs-11000000'; // its connector runs as a process
const EGS_BREMEN = 'egs-04011000'; // no connector: its deliveries stay open for the receipt attacks

describe.skipIf(!natsAvailable)('attacks by holders of valid certificates, against the running exchange', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let bremen: NatsConnection;
  let melde: NatsConnection;
  const P = (name: string) => ex.party(name);

  beforeAll(async () => {
    ex = await startLiveExchange('attacks');
    [berlin, bremen, melde] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(BREMEN), ex.connectAs(MELDE)]);
    await ex.startConnector(EGS_BERLIN);
  }, 120_000);
  afterAll(async () => {
    await ex?.stop();
  });

  const rowsOf = (stream: string): LogRow[] => ex.log().filter((r) => r.stream === stream);
  const withId = <T extends object>(event: T, messageId: string): T => ({ ...event, messageId, correlationId: messageId });
  /** Security events recorded after `since` (log position). */
  const securitySince = (since: number) => securityRows(ex.log().filter((r) => r.position > since));
  const head = () => ex.log().at(-1)?.position ?? -1;
  /** Entries a party submitted after `since` (the hub's own entries, derived from earlier legit submissions, left out). */
  const submittedSince = (since: number) => ex.log().filter((r) => r.position > since && (r.event as { producer?: { role?: string } }).producer?.role !== 'hub');

  it('1. a Standesamt may not register, correct or withdraw another office\'s case (not-case-owner); the log holds only the security events', async () => {
    const b = birthOf('11007007', 'A1');
    const before = head();
    // Register first, as the attacker, then the owner registers; then the attacker corrects and withdraws.
    expect(codeOf(await submit(bremen, asProducer(registered(b), P(BREMEN)), P(BREMEN).signer))).toBe('not-case-owner');
    expect(rowsOf(caseStream(b))).toEqual([]);
    expect(codeOf(await submit(berlin, asProducer(registered(b), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(bremen, asProducer(corrected({ ...b, zuordnungGeburtsanzeige: 'GA-EVIL' }), P(BREMEN)), P(BREMEN).signer))).toBe('not-case-owner');
    expect(codeOf(await submit(bremen, asProducer(withdrawn(b), P(BREMEN)), P(BREMEN).signer))).toBe('not-case-owner');
    expect(rowsOf(caseStream(b)).map((r) => r.type).filter((t) => t !== 'DeliveryScheduled')).toEqual(['BirthRegistered']);
    const security = securitySince(before);
    expect(security.map((s) => s.security.code)).toEqual(['not-case-owner', 'not-case-owner', 'not-case-owner']);
    for (const s of security) expect(s.security.subject).toMatchObject({ certificateSerial: P(BREMEN).serial, dvdv: 'psw:04011000', role: 'standesamt', verified: true });
    // Nothing else came in with the attack: the owner's registration is the only submitted entry.
    expect(submittedSince(before).map((r) => [r.type, r.event.producer])).toEqual([['BirthRegistered', expect.objectContaining({ dvdv: 'psw:11007007' })]]);
  });

  it('2. the rightful owner\'s correction or withdrawal of an unknown case is refused (unknown-case), nothing stored', async () => {
    const b = birthOf('11007007', 'A2');
    const before = head();
    expect(codeOf(await submit(berlin, asProducer(corrected(b), P(BERLIN)), P(BERLIN).signer))).toBe('unknown-case');
    expect(codeOf(await submit(berlin, asProducer(withdrawn(b), P(BERLIN)), P(BERLIN).signer))).toBe('unknown-case');
    expect(rowsOf(caseStream(b))).toEqual([]);
    expect(submittedSince(before)).toEqual([]);
  });

  it('3. IdNr for a case that does not exist (unknown-case); IdNr from a Standesamt (role-not-allowed); anything from an agency (role-not-allowed)', async () => {
    const b = birthOf('11007007', 'A3');
    const before = head();
    expect(codeOf(await submit(melde, asProducer(childIdNr(b), P(MELDE)), P(MELDE).signer))).toBe('unknown-case');
    expect(rowsOf(caseStream(b))).toEqual([]);
    expect(codeOf(await submit(berlin, asProducer(registered(b), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    // Even the owning Standesamt may not send the IdNr, nor another one.
    expect(codeOf(await submit(berlin, asProducer(childIdNr(b), P(BERLIN)), P(BERLIN).signer))).toBe('role-not-allowed');
    expect(codeOf(await submit(bremen, asProducer(childIdNr(b), P(BREMEN)), P(BREMEN).signer))).toBe('role-not-allowed');
    // An agency's signature on a submission: the hub refuses the role, whatever connection carried it.
    // A colluding Standesamt's connection carries it (the answer goes to that Standesamt's own inbox).
    const egs = ex.party(EGS_BERLIN);
    const agency = await ex.connectAs(EGS_BERLIN);
    const viaStandesamt = async (payload: object): Promise<string> => codeOf(await submit(bremen, payload, egs.signer));
    for (const event of [registered(b), corrected(b), withdrawn(b), childIdNr(b)]) {
      expect(await viaStandesamt(asProducer(event, egs)), event.type).toBe('role-not-allowed');
    }
    // Over the agency's own connection the nats-server refuses the publish before the hub sees it.
    const refused = await submit(agency, asProducer(registered(birthOf('11007007', 'A3x')), egs), egs.signer, 3000).then(
      (reply) => `hub answered ${codeOf(reply)}`,
      (error: unknown) => (isPermissionError(error) ? 'permission' : `error ${String(error)}`),
    );
    expect(['permission', 'hub answered role-not-allowed']).toContain(refused);
    expect(rowsOf(caseStream(b)).map((r) => r.type).filter((t) => t !== 'DeliveryScheduled')).toEqual(['BirthRegistered']);
    expect(rowsOf(caseStream(birthOf('11007007', 'A3x')))).toEqual([]);
    const codes = securitySince(before).map((s) => s.security.code);
    expect(codes.filter((c) => c === 'role-not-allowed').length).toBeGreaterThanOrEqual(6);
    expect(codes).toContain('unknown-case');
  });

  it('4. message ids in the hub\'s namespace and future delivery/receipt/checkpoint ids are refused; the real delivery is still logged and acknowledged', async () => {
    const real = birthOf('11007007', 'A4');
    const realEvent = asProducer(registered(real), P(BERLIN));
    const deliveryId = hubDerivedUuid('delivery', realEvent.messageId, 'egs:11000000');
    const logSize = ex.log().length;
    const stolen: [string, string][] = [
      ['hub namespace', hubDerivedUuid('anything', 'chosen-by-the-attacker')],
      ['future delivery id', deliveryId],
      ['future receipt id', hubDerivedUuid('receipt', deliveryId)],
      ...[1, 2, 3, 4, 1000].map((n): [string, string] => [`future checkpoint id +${n}`, hubDerivedUuid('checkpoint', 'elfe-hub/log', String(logSize + n))]),
    ];
    const before = head();
    for (const [i, [what, id]] of stolen.entries()) {
      const decoy = birthOf('11007007', `A4-${i}`);
      const reply = await submit(berlin, withId(asProducer(registered(decoy), P(BERLIN)), id), P(BERLIN).signer);
      expect(codeOf(reply), what).toBe('invalid-contract');
      expect(rowsOf(caseStream(decoy)), what).toEqual([]);
      expect(ex.log().some((r) => r.eventId === id), what).toBe(false);
    }
    expect(submittedSince(before)).toEqual([]);
    // The legit birth afterwards: scheduled under that id, delivered to the running connector, acknowledged.
    expect(codeOf(await submit(berlin, realEvent, P(BERLIN).signer))).toBe('ok');
    await until(() => ex.log().some((r) => r.type === 'DeliveryAcknowledged' && (r.event.data as { deliveryId?: string }).deliveryId === deliveryId), { what: 'the real delivery acknowledged' });
    expect(ex.log().filter((r) => r.eventId === deliveryId).map((r) => r.type)).toEqual(['DeliveryScheduled']);
    expect(ex.log().filter((r) => r.eventId === hubDerivedUuid('receipt', deliveryId)).map((r) => r.type)).toEqual(['DeliveryAcknowledged']);
  });

  it('5. a submission carrying hub-only fields (recordedAt, position) is refused, nothing stored', async () => {
    const before = head();
    const extras: [string, Record<string, unknown>][] = [
      ['recordedAt', { recordedAt: '2020-01-01T00:00:00.000Z' }],
      ['position', { position: 0 }],
      ['both', { recordedAt: '2020-01-01T00:00:00.000Z', position: 1 }],
    ];
    for (const [i, [what, extra]] of extras.entries()) {
      const b = birthOf('11007007', `A5-${i}`);
      const event = asProducer(registered(b), P(BERLIN));
      expect(codeOf(await submit(berlin, { ...event, ...extra }, P(BERLIN).signer)), what).toBe('invalid-contract');
      expect(rowsOf(caseStream(b)), what).toEqual([]);
      expect(ex.log().some((r) => r.eventId === event.messageId), what).toBe(false);
    }
    expect(submittedSince(before)).toEqual([]);
    expect(securitySince(before)).toEqual([]);
  });

  it('6. re-using another office\'s existing message id gets the same conflict answer as any conflict, never "duplicate", nothing logged', async () => {
    const own = birthOf('11007007', 'A6');
    const first = asProducer(registered(own), P(BERLIN));
    const accepted = await submit(berlin, first, P(BERLIN).signer);
    expect(accepted).toMatchObject({ ok: true, duplicate: false });
    const before = head();
    // Bremen takes Berlin's id for a birth of its own.
    const bremenBirth = birthOf('04011000', 'A6');
    const foreign = await submit(bremen, withId(asProducer(registered(bremenBirth), P(BREMEN)), first.messageId), P(BREMEN).signer);
    // Bremen resends Berlin's very event under its own signature (same bytes, other signer).
    const replayed = await submit(bremen, first, P(BREMEN).signer);
    // The conflict any office gets for a birth that is already registered, for comparison.
    const again = await submit(berlin, asProducer(registered(own), P(BERLIN)), P(BERLIN).signer);
    expect(codeOf(again)).toBe('conflict');
    expect(codeOf(foreign)).toBe('conflict');
    expect(foreign).toEqual({ ...again, messageId: first.messageId });
    expect(foreign).not.toHaveProperty('position');
    expect(foreign).not.toHaveProperty('duplicate');
    // Replaying another office's signed event under one's own signature: refused (producer-mismatch), never a duplicate.
    expect(replayed.ok).toBe(false);
    expect(replayed).not.toHaveProperty('duplicate');
    expect(rowsOf(caseStream(bremenBirth))).toEqual([]);
    expect(submittedSince(before)).toEqual([]);
    expect(securitySince(before).map((s) => s.security.code)).toEqual(['producer-mismatch']);
    // The rightful owner's resend is the only duplicate.
    expect(await submit(berlin, first, P(BERLIN).signer)).toEqual({ ...accepted, duplicate: true });
  });

  it('7. a flood of 2,000 bad signatures over one valid-certificate connection grows the log by a small bounded number of security events; the hub keeps answering', async () => {
    const flooder = await ex.connectAs(BREMEN);
    const before = ex.log();
    const beforeHead = before.at(-1)!.position;
    const base = asProducer(registered(birthOf('04011000', 'A7')), P(BREMEN));
    const signature = P(BREMEN).signer.sign(base);
    const started = Date.now();
    const replies: string[] = [];
    const n = 2000;
    const batch = 250;
    for (let i = 0; i < n; i += batch) {
      const sent = Array.from({ length: Math.min(batch, n - i) }, (_, j) => {
        // The valid certificate attached, the signature over other bytes.
        const payload = { ...base, occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, (i + j) % 60)).toISOString(), purpose: `flood ${i + j}` };
        return flooder.request(submitSubjectFor(flooder), JSON.stringify({ payload, signature }), { timeout: 20_000 })
          .then((m) => codeOf(SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(m.data))) as SubmissionReply));
      });
      replies.push(...(await Promise.all(sent)));
    }
    const floodMs = Date.now() - started;
    expect(replies).toHaveLength(n);
    expect(new Set(replies)).toSatisfy((codes: Set<string>) => [...codes].every((c) => c === 'signature-invalid' || c === 'unavailable'));
    expect(replies.filter((c) => c === 'signature-invalid').length).toBeGreaterThan(0);
    // A legit submission afterwards is answered (from the same connection and from another office).
    expect(codeOf(await submit(flooder, asProducer(registered(birthOf('04011000', 'A7-legit')), P(BREMEN)), P(BREMEN).signer))).toBe('ok');
    expect(codeOf(await submit(berlin, asProducer(registered(birthOf('11007007', 'A7-legit')), P(BERLIN)), P(BERLIN).signer))).toBe('ok');
    const grown = ex.log().filter((r) => r.position > beforeHead);
    const security = securityRows(grown);
    // Rate limit (burst 20 for senders whose signature does not verify, refilled 1/s) plus at most a summary.
    const elapsedSeconds = Math.ceil((Date.now() - started) / 1000);
    expect(security.length).toBeLessThanOrEqual(20 + elapsedSeconds + 1);
    expect(security.filter((s) => s.security.code === 'signature-invalid').length).toBeGreaterThan(0);
    expect(submittedSince(beforeHead).map((r) => r.stream)).toEqual([caseStream(birthOf('04011000', 'A7-legit')), caseStream(birthOf('11007007', 'A7-legit'))]);
    expect(rowsOf(caseStream(birthOf('04011000', 'A7')))).toEqual([]);
    console.info(`flood of ${n} bad signatures answered in ${floodMs} ms: ${replies.filter((c) => c === 'signature-invalid').length} signature-invalid, ${replies.filter((c) => c === 'unavailable').length} unavailable; ${security.length} security events logged`);
  });

  it('8. receipts: an agency acknowledges and rejects the same delivery, or rejects it under several reason codes: exactly one final answer is logged', async () => {
    const agency = ex.party(EGS_BREMEN);
    const nc = await ex.connectAs(EGS_BREMEN);
    const js = jetstream(nc);
    const deliveryOf = async (eintragsnummer: string) => {
      const b = birthOf('04011000', eintragsnummer);
      expect(codeOf(await submit(bremen, asProducer(registered(b), P(BREMEN)), P(BREMEN).signer))).toBe('ok');
      await until(() => rowsOf(caseStream(b)).some((r) => r.type === 'DeliveryScheduled'), { what: `delivery of ${eintragsnummer} scheduled` });
      const scheduled = rowsOf(caseStream(b)).find((r) => r.type === 'DeliveryScheduled')!.event.data as { deliveryId: string; payloadHash: string; payloadJwe?: string; recipient: { dvdv: string } };
      expect(scheduled.recipient.dvdv).toBe('egs:04011000');
      // A receipt names the hash of what was received: the JWE's, when the payload is one.
      return { ...scheduled, receivedHash: receivedHashOf(scheduled)! };
    };
    const publish = (receipt: object) => js.publish(receiptSubject(agency.dvdv), JSON.stringify({ payload: receipt, signature: agency.signer.sign(receipt) }));
    const finals = (deliveryId: string) => ex.log().filter((r) => (r.type === 'DeliveryAcknowledged' || r.type === 'DeliveryRejected') && (r.event.data as { deliveryId?: string }).deliveryId === deliveryId);
    const before = head();

    // Acknowledge, then reject the same delivery (twice, with different codes).
    const first = await deliveryOf('A8-1');
    const base1 = { deliveryId: first.deliveryId, recipient: agency.dvdv, receivedHash: first.receivedHash, receivedAt: new Date().toISOString() };
    await publish({ ...base1, status: 'acknowledged' });
    await publish({ ...base1, status: 'rejected', reasonCode: 'no-application', reason: 'changed our mind' });
    await publish({ ...base1, status: 'rejected', reasonCode: 'other', reason: 'and again' });
    // Reject a second delivery under several reason codes, then acknowledge it.
    const second = await deliveryOf('A8-2');
    const base2 = { deliveryId: second.deliveryId, recipient: agency.dvdv, receivedHash: second.receivedHash, receivedAt: new Date().toISOString(), status: 'rejected' };
    for (const code of ['a', 'b', 'c', 'd']) await publish({ ...base2, reasonCode: code, reason: `reason ${code}` });
    await publish({ ...base2, status: 'acknowledged' });
    await until(() => securitySince(before).filter((s) => s.security.code === 'receipt-contradiction').length >= 6, { what: 'every contradiction judged' });

    expect(finals(first.deliveryId).map((r) => r.type)).toEqual(['DeliveryAcknowledged']);
    expect(finals(second.deliveryId).map((r) => [r.type, (r.event.data as { reasonCode?: string }).reasonCode])).toEqual([['DeliveryRejected', 'a']]);
    const contradictions = securitySince(before).filter((s) => s.security.code === 'receipt-contradiction');
    expect(contradictions).toHaveLength(6);
    for (const c of contradictions) expect(c.security.subject).toMatchObject({ certificateSerial: agency.serial, dvdv: 'egs:04011000', verified: true });
  });

  it('10. security events name who tried (certificate serial, subject, DVDV), never the payload', async () => {
    const b = birthOf('11007007', 'A10', { consent: { elterngeldstelle: true, auftragsnummer: 'EG-GEHEIM-0815' } } as never);
    const before = head();
    expect(codeOf(await submit(bremen, asProducer(registered(b), P(BREMEN)), P(BREMEN).signer))).toBe('not-case-owner');
    // And one whose signature does not verify (certificate attached, signature over other bytes).
    const event = asProducer(registered(b), P(BREMEN));
    const forged = JSON.stringify({ payload: { ...event, purpose: 'forged' }, signature: P(BREMEN).signer.sign(event) });
    const reply = SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode((await bremen.request(submitSubjectFor(bremen), forged, { timeout: 10_000 })).data)));
    expect(codeOf(reply)).toBe('signature-invalid');
    const security = securitySince(before);
    expect(security.map((s) => s.security.code)).toContain('not-case-owner');
    const named = security.find((s) => s.security.code === 'not-case-owner')!;
    expect(named.security.subject).toEqual({ certificateSerial: P(BREMEN).serial, dvdv: 'psw:04011000', role: 'standesamt', name: P(BREMEN).signer.identity.name, verified: true });
    for (const s of security) {
      expect(s.json).not.toContain(distinctiveFirstName);
      expect(s.json).not.toContain('Zwetschgenbaum');
      expect(s.json).not.toContain('EG-GEHEIM-0815');
      expect(s.json).not.toContain(b.parent1.idnr!);
      expect(s.json).not.toContain('Musterweg');
    }
    expect(rowsOf(caseStream(b))).toEqual([]);
    // The payload was nowhere logged.
    expect(ex.log().filter((r) => r.position > before).some((r) => r.json.includes(distinctiveFirstName))).toBe(false);
  });
});
