// What JetStream keeps of a birth case, against a real exchange (`elfe exchange init`, `elfe hub
// start`, an agency connector as its own process). JetStream keeps deliveries and receipts for
// 30 days whether acknowledged or not: (1) nothing there may confirm a guessed data set (a
// name and a birth date): neither the delivery as it sits in the stream nor the agency's
// receipt carries the hash of the plaintext data set, and the receipt is still accepted (and
// one with a wrong hash still refused); (2) an erased case's deliveries leave the stream when
// the hub logs its `CaseErased` (erased on the running hub), acknowledged or still pending for
// a stopped connector, while another case's delivery stays; a replay deletes nothing twice.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { canonicalHash, decryptPayload, deliveryStream, receiptStream, receiptSubject, sha256Hex, type BirthRegisteredData } from '../../contracts/index.ts';
import { loadCredentials } from '../../connectors/kit/credentials.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { runElfe } from '../support/processes.ts';
import { asProducer, birthOf, caseStream, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007';
const BREMEN = 'sta-04011000';
const EGS_BERLIN = 'egs-11000000'; // its connector runs
const EGS_BREMEN = 'egs-04011000'; // its connector never runs: its deliveries wait in the stream

const decoder = new TextDecoder();

interface StreamMessage {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly headers: string[];
  readonly text: string;
}

/** Every message a stream holds now, read as the hub (deleted sequences skipped). */
async function messagesOf(jsm: JetStreamManager, stream: string): Promise<StreamMessage[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StreamMessage[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    const headers = m.header ? [...m.header.keys()].flatMap((k) => m.header.values(k)) : [];
    out.push({ seq, subject: m.subject, msgId: m.header?.get('Nats-Msg-Id') || undefined, headers, text: decoder.decode(m.data) });
  }
  return out;
}

/** Every string anywhere in a JSON value. */
const stringsIn = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(stringsIn) : value && typeof value === 'object' ? Object.values(value).flatMap(stringsIn) : [];

interface Scheduled {
  deliveryId: string;
  payloadHash: string;
  payloadJwe: string;
  recipient: { dvdv: string };
}

describe.skipIf(!natsAvailable)('what JetStream keeps of a birth case', () => {
  let ex: LiveExchange;
  let berlin: NatsConnection;
  let bremen: NatsConnection;
  let hubNc: NatsConnection;
  let jsm: JetStreamManager;
  const births = {
    acknowledged: birthOf('11007007', 'J1'),
    kept: birthOf('11007007', 'J2'),
    pending: birthOf('04011000', 'J3'),
  };

  const scheduledOf = (b: BirthRegisteredData): Scheduled | undefined =>
    ex.log().find((r) => r.stream === caseStream(b) && r.type === 'DeliveryScheduled')?.event.data as Scheduled | undefined;
  const finalOf = (deliveryId: string) => ex.log().find((r) => (r.type === 'DeliveryAcknowledged' || r.type === 'DeliveryRejected') && r.event.data.deliveryId === deliveryId);
  /** Reads the streams as the hub (an agency may not). */
  const connectAsHub = async () => {
    await hubNc?.close().catch(() => undefined);
    hubNc = await connect({ servers: ex.natsUrl, tls: { caFile: path.join(ex.caDir, 'ca.cert.pem'), certFile: path.join(ex.hubDir, 'cert.pem'), keyFile: path.join(ex.hubDir, 'key.pem') } });
    jsm = await jetstreamManager(hubNc);
  };
  /** The hub's log lines of purges since its last start (one JSON line each). */
  const purgeLines = () =>
    ex.hub.stderr
      .split('\n')
      .filter((l) => l.includes('"event":"relay.erased-deliveries-purged"'))
      .map((l) => JSON.parse(l) as { deliveryIds: string[]; deleted: number; gone: number });
  const inStream = async (deliveryId: string) => (await messagesOf(jsm, deliveryStream)).some((m) => m.msgId === deliveryId);

  beforeAll(async () => {
    ex = await startLiveExchange('streamcopies', { api: true });
    [berlin, bremen] = await Promise.all([ex.connectAs(BERLIN), ex.connectAs(BREMEN)]);
    await connectAsHub();
    await ex.startConnector(EGS_BERLIN);
    expect(codeOf(await submit(berlin, asProducer(registered(births.acknowledged), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(berlin, asProducer(registered(births.kept), ex.party(BERLIN)), ex.party(BERLIN).signer))).toBe('ok');
    expect(codeOf(await submit(bremen, asProducer(registered(births.pending), ex.party(BREMEN)), ex.party(BREMEN).signer))).toBe('ok');
    await until(() => Object.values(births).every((b) => scheduledOf(b) !== undefined), { what: 'three deliveries scheduled', timeoutMs: 30_000 });
    await until(() => finalOf(scheduledOf(births.acknowledged)!.deliveryId) !== undefined && finalOf(scheduledOf(births.kept)!.deliveryId) !== undefined, { what: 'the Berlin deliveries answered', timeoutMs: 60_000 });
    for (const b of Object.values(births)) await until(() => inStream(scheduledOf(b)!.deliveryId), { what: 'every delivery in the stream' });
  }, 180_000);
  afterAll(async () => {
    await hubNc?.close().catch(() => undefined);
    await ex?.stop();
  });

  it('a delivery as it sits in JetStream and its receipt carry no hash of the plaintext data set; the receipt is accepted and logged', async () => {
    const scheduled = scheduledOf(births.acknowledged)!;
    expect(scheduled.payloadJwe).toBeDefined();
    // The data set as the agency opens it: its canonical hash is what confirmed a guess.
    const opened = await decryptPayload(scheduled.payloadJwe, loadCredentials(ex.party(EGS_BERLIN).dir).privateKey, scheduled.deliveryId);
    if (!opened.success) throw new Error(opened.error.message);
    const plaintextHash = canonicalHash(opened.data);
    expect(plaintextHash).toBe(scheduled.payloadHash);

    const delivery = (await messagesOf(jsm, deliveryStream)).find((m) => m.msgId === scheduled.deliveryId)!;
    expect(delivery, 'the delivery in the stream').toBeDefined();
    const wire = JSON.parse(delivery.text) as { payload: Record<string, unknown> };
    expect(wire.payload.payloadJwe).toBe(scheduled.payloadJwe);
    expect(wire.payload).not.toHaveProperty('payloadHash');
    expect([...stringsIn(wire), ...delivery.headers]).not.toContain(plaintextHash);
    expect(delivery.text).not.toContain(plaintextHash);

    const receipt = (await messagesOf(jsm, receiptStream)).find((m) => (JSON.parse(m.text) as { payload?: { deliveryId?: string } }).payload?.deliveryId === scheduled.deliveryId)!;
    expect(receipt, 'the receipt in the stream').toBeDefined();
    expect([...stringsIn(JSON.parse(receipt.text)), ...receipt.headers]).not.toContain(plaintextHash);
    expect(receipt.text).not.toContain(plaintextHash);
    // It names the ciphertext the agency received.
    expect((JSON.parse(receipt.text) as { payload: { receivedHash: string } }).payload.receivedHash).toBe(sha256Hex(scheduled.payloadJwe));

    const answer = finalOf(scheduled.deliveryId)!;
    expect(answer.type).toBe('DeliveryAcknowledged');
    expect(answer.event.data.receivedHash).toBe(sha256Hex(scheduled.payloadJwe));
  });

  it('a receipt with a wrong hash is refused: the plaintext\'s hash does not acknowledge an encrypted delivery', async () => {
    const scheduled = scheduledOf(births.pending)!;
    const agency = ex.party(EGS_BREMEN);
    const nc = await ex.connectAs(EGS_BREMEN);
    const receipt = { deliveryId: scheduled.deliveryId, recipient: agency.dvdv, status: 'acknowledged', receivedHash: scheduled.payloadHash, receivedAt: new Date().toISOString() };
    await jetstream(nc).publish(receiptSubject(agency.dvdv), JSON.stringify({ payload: receipt, signature: agency.signer.sign(receipt) }));
    await until(() => finalOf(scheduled.deliveryId) !== undefined, { what: 'the receipt judged' });
    const answer = finalOf(scheduled.deliveryId)!;
    expect(answer.type).toBe('DeliveryRejected');
    expect(answer.event.data.reasonCode).toBe('hash-mismatch');
  });

  it("an erased case's deliveries leave the stream (acknowledged, and pending for a stopped connector); another case's stays; a replay deletes nothing twice", async () => {
    const acknowledged = scheduledOf(births.acknowledged)!.deliveryId;
    const pending = scheduledOf(births.pending)!.deliveryId;
    const kept = scheduledOf(births.kept)!.deliveryId;
    for (const id of [acknowledged, pending, kept]) expect(await inStream(id)).toBe(true);
    // The plaintexts' hashes, read while the cases still open.
    const hashes = [births.acknowledged, births.pending].map((b) => scheduledOf(b)!.payloadHash);
    expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);

    const config = path.join(ex.hubDir, 'config.json');
    for (const key of ['11007007/G/2026/J1', '04011000/G/2026/J3']) {
      const erased = await runElfe(['erase', '--register', key, '--config', config, '--reason', 'Art. 17 DSGVO: Löschung auf Antrag', '--json'], { timeoutMs: 60_000 });
      expect(erased.code, erased.stdout + erased.stderr).toBe(0);
    }
    expect(ex.hub.running).toBe(true);
    await until(async () => !(await inStream(acknowledged)) && !(await inStream(pending)), { what: 'the erased deliveries gone from the stream', timeoutMs: 30_000 });
    expect(await inStream(kept)).toBe(true);
    // Logged, ids and counts only.
    await until(() => purgeLines().length >= 2, { what: 'both purges logged' });
    expect(purgeLines().map((p) => [p.deliveryIds, p.deleted])).toEqual(expect.arrayContaining([[[acknowledged], 1], [[pending], 1]]));
    expect(ex.hub.stderr).not.toContain('purge-failed');
    // The erasure notices and the erasure receipt that follow name ids, not hashes of the data sets.
    await until(() => ex.log().some((r) => r.type === 'ErasureConfirmed'), { what: 'the running agency confirmed its erasure', timeoutMs: 30_000 });
    // (Except the receipt this test forged above with the plaintext's hash.)
    const forged = (m: StreamMessage) => (JSON.parse(m.text) as { payload?: { deliveryId?: string } }).payload?.deliveryId === pending;
    const copies = [...(await messagesOf(jsm, deliveryStream)), ...(await messagesOf(jsm, receiptStream)).filter((m) => !forged(m))];
    expect(copies.some((m) => m.text.includes('erasure-notice'))).toBe(true);
    expect(copies.some((m) => m.text.includes('erasure-receipt'))).toBe(true);
    for (const h of hashes) expect(copies.filter((m) => m.text.includes(h))).toEqual([]);

    // A replay of the whole log (the relay's position reset) finds them gone and deletes nothing else.
    await ex.hub.kill('SIGTERM');
    const positionFile = path.join(ex.hubDir, 'relay.position');
    expect(Number(readFileSync(positionFile, 'utf8'))).toBeGreaterThan(0);
    writeFileSync(positionFile, '0');
    ex.hub.start();
    await ex.hub.ready();
    await connectAsHub();
    await until(() => purgeLines().length >= 2, { what: 'both erasures replayed', timeoutMs: 30_000 });
    expect(purgeLines().map((p) => [p.deleted, p.gone])).toEqual([
      [0, 1],
      [0, 1],
    ]);
    expect(ex.hub.stderr).not.toContain('purge-failed');
    expect(await inStream(kept)).toBe(true);
    expect((await messagesOf(jsm, deliveryStream)).filter((m) => m.msgId === kept)).toHaveLength(1);
  });
});
