// Submitters choose their message ids; the hub derives its own (deliveries, receipts, dead
// letters, checkpoints). A submitter that takes a future hub id first must not stop the hub
// from logging its entry, and a duplicate answer is given only for the same submission by
// the same signer. Real nats-server, real signatures.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deterministicUuid,
  keySetVerifier,
  receiptSubject,
  SubmissionReplySchema,
  type BirthRegisteredData,
  type Signer,
  type SubmissionReply,
} from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadOrCreateHubKey, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { TransparentLog } from '../../hub/src/log/transparentLog.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import type { JsonValue } from '../../hub/src/log/eventStore.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));
const birth = (eintragsnummer: string): BirthRegisteredData =>
  sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer } as never });

describe.skipIf(!natsAvailable)('id namespaces of submitters and hub', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let keys: string;
  let berlin: Signer;
  let bremen: Signer;
  let agency: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
    keys = tmp('ns-keys');
    berlin = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    bremen = createKeyPair(keys, { name: 'sta-hb', dvdv: 'psw:04011000', role: 'standesamt' });
    agency = createKeyPair(keys, { name: 'egs', dvdv: 'egs:11000000', role: 'elterngeldstelle' });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  const send = async (payload: unknown, signer: Signer = berlin): Promise<SubmissionReply> => {
    const reply = await requestAs(nc, signer.identity.dvdv, JSON.stringify({ payload, signature: signer.sign(payload) }));
    return SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
  };
  const withId = <T extends object>(event: T, messageId: string): T => ({ ...event, messageId, correlationId: messageId });
  const codeOf = (r: SubmissionReply) => (r.ok ? 'ok' : r.error.code);

  it('a submission that takes a future delivery id first does not stop the delivery', async () => {
    const log = createMemoryEventStore();
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const real = registered(birth('N1'));
    const futureDeliveryId = deterministicUuid('delivery', real.messageId, 'egs:11000000');
    expect(codeOf(await send(withId(registered(birth('N2')), futureDeliveryId)))).toBe('ok');
    expect(codeOf(await send(real))).toBe('ok');
    await until(async () => (await collect(log.readStream('birth-11007007-G-2026-N1'))).some((e) => e.type === 'DeliveryScheduled'), { timeoutMs: 5_000 });
    await scheduler.stop();
    await ingress.stop();
    await log.close();
  });

  it('a submission that takes a future receipt id first does not stop the acknowledgement', async () => {
    const log = createMemoryEventStore();
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const js = jetstream(nc);
    const receipts = await startReceiptProcessor({ nc, js, jsm: await jetstreamManager(nc), log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    expect(codeOf(await send(registered(birth('N3'))))).toBe('ok');
    await until(async () => (await collect(log.readAll())).some((e) => e.type === 'DeliveryScheduled'), { timeoutMs: 5_000 });
    const scheduled = (await collect(log.readAll())).find((e) => e.type === 'DeliveryScheduled')!;
    const { deliveryId, payloadHash } = (scheduled.data as { data: { deliveryId: string; payloadHash: string } }).data;
    for (const status of ['acknowledged', 'final']) {
      expect(codeOf(await send(withId(registered(birth(`N4${status}`)), deterministicUuid('receipt', deliveryId, status))))).toBe('ok');
    }
    const receipt = { deliveryId, recipient: 'egs:11000000', status: 'acknowledged', receivedHash: payloadHash, receivedAt: new Date().toISOString() };
    await js.publish(receiptSubject('egs:11000000'), JSON.stringify({ payload: receipt, signature: agency.sign(receipt) }));
    await until(async () => (await collect(log.readAll())).some((e) => e.type === 'DeliveryAcknowledged'), { timeoutMs: 5_000 });
    await receipts.stop();
    await scheduler.stop();
    await ingress.stop();
    await log.close();
  });

  it('a submission that takes a future checkpoint id first does not stop the checkpoint', async () => {
    const dataDir = tmp('ns-log');
    const log = await TransparentLog.open(createMemoryEventStore(), {
      treeFile: path.join(dataDir, 'tree.sqlite'),
      hubKey: loadOrCreateHubKey(dataDir),
      origin: 'elfe-hub/test',
      checkpoint: { everyEntries: 1000, everyMs: 0 },
    });
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    expect(codeOf(await send(withId(registered(birth('N5')), deterministicUuid('checkpoint', 'elfe-hub/test', '2'))))).toBe('ok');
    expect(codeOf(await send(registered(birth('N6'))))).toBe('ok');
    const checkpoint = await log.checkpointNow();
    expect(checkpoint.treeSize).toBe(2);
    expect((await collect(log.readAll())).filter((e) => e.type === 'LogCheckpointSigned')).toHaveLength(1);
    await ingress.stop();
    await log.close();
  });

  it('answers duplicate only for the same submission by the same signer; anything else is a conflict like any other', async () => {
    const log = createMemoryEventStore();
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const first = registered(birth('N7'));
    const accepted = await send(first);
    expect(accepted).toMatchObject({ ok: true, duplicate: false });
    expect(await send(first)).toEqual({ ...accepted, duplicate: true });
    // Bremen reuses Berlin's id for a birth of its own: no position, no hint that the id exists.
    const bremenBirth = sampleBirthRegistration({ registerKey: { standesamtsnummer: '04011000', registerart: 'G', jahr: 2026, eintragsnummer: '7' } as never });
    const stolen = withId({ ...registered(bremenBirth), producer: { dvdv: 'psw:04011000', name: 'sta-hb', role: 'standesamt' } }, first.messageId);
    const foreign = await send(stolen, bremen);
    // Berlin reuses its own id for another event of its own.
    const reused = await send(withId(registered(birth('N8')), first.messageId));
    // The answer to a registration of a birth that is already registered, for comparison.
    const again = await send(registered(birth('N7')));
    for (const r of [foreign, reused, again]) {
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toEqual(!again.ok && again.error);
      expect(r).not.toHaveProperty('position');
    }
    expect(codeOf(again)).toBe('conflict');
    expect((await collect(log.readAll())).filter((e) => e.stream !== 'security')).toHaveLength(1);
    await ingress.stop();
    await log.close();
  });

  it('a log written before delivery ids moved to the hub namespace replays without scheduling anything again', async () => {
    const event = registered(birth('N9'));
    const stream = 'birth-11007007-G-2026-N9';
    // What an older release wrote: the same decision under the old id.
    const scratch = createMemoryEventStore();
    const first = startScheduler({ log: scratch, table: testRoutingTable });
    await scratch.append(stream, [toRecord(event)]);
    await until(() => first.stats.scheduled === 1, { timeoutMs: 5_000 });
    await first.stop();
    const decided = (await collect(scratch.readStream(stream))).find((e) => e.type === 'DeliveryScheduled')!;
    await scratch.close();
    const oldId = deterministicUuid('delivery', event.messageId, 'egs:11000000');
    const legacy = decided.data as { messageId: string; data: { deliveryId: string } };
    const log = createMemoryEventStore();
    await log.append(stream, [toRecord(event)]);
    await log.append(stream, [{ eventId: oldId, type: 'DeliveryScheduled', data: { ...legacy, messageId: oldId, data: { ...legacy.data, deliveryId: oldId } } as unknown as JsonValue, metadata: {} }]);
    const replay = startScheduler({ log, table: testRoutingTable });
    await until(async () => replay.stats.position >= 2, { timeoutMs: 5_000 });
    expect(replay.stats.scheduled).toBe(0);
    expect((await collect(log.readStream(stream))).map((e) => e.type)).toEqual(['BirthRegistered', 'DeliveryScheduled']);
    await replay.stop();
    await log.close();
  });
});
