// Dead letters per delivery, also those given up while the hub was down. JetStream announces
// each message a consumer gave up on with a max-deliveries advisory
// ($JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>, carrying the message's stream
// sequence); it is a core NATS message, lost when nobody listens, and the consumer keeps no
// per-message delivery count after max deliver. So a durable JetStream stream captures those
// advisories (`ELFE_DEAD_LETTERS`, work-queue retention, created at the hub's start and kept by
// the NATS servers while the hub is down), and the hub reads it per message: each advisory names
// one delivery message (its Nats-Msg-Id is the delivery id), recorded as one
// `DeliveryDeadLettered` with the id the live path uses, so the two never both write; the
// advisory is acknowledged (and so removed) once the log holds the answer. A delivery the
// recipient answered (a receipt in the log) is not dead-lettered.
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { deliveryStream as deliveryJsStream, hubDerivedUuid, receiptStream, type DeliveryDeadLettered } from '../../../contracts/index.ts';
import { DuplicateEventIdError, type EventStore } from '../log/eventStore.ts';
import { hubProducer, toRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import type { ProjectionStore } from './projectionStore.ts';

/** The stream that keeps the max-deliveries advisories of the delivery stream's consumers. */
export const deadLetterStream = 'ELFE_DEAD_LETTERS';
export const deadLetterAdvisories = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${deliveryJsStream}.*`;
const reconciler = 'hub-dead-letters';

export interface ReconcileOptions {
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  /** Kept for the callers' signature; the advisories name the deliveries. */
  readonly store?: ProjectionStore;
  readonly limits?: { readonly maxDeliver: number; readonly ackWaitMs: number };
  readonly now?: () => Date;
  /** How long to wait for the receipts JetStream still holds to be logged first (default 10 s). */
  readonly receiptsSettleMs?: number;
}

const ensured = new WeakSet<JetStreamManager>();

/**
 * Creates (or keeps) the advisory stream and its durable consumer; its replicas and max age
 * follow the delivery stream's. Runs at every start, before deliveries can be given up.
 */
export async function ensureDeadLetterStream(jsm: JetStreamManager): Promise<void> {
  if (ensured.has(jsm)) return;
  const delivery = await jsm.streams.info(deliveryJsStream);
  const config = { subjects: [deadLetterAdvisories], max_age: delivery.config.max_age, num_replicas: delivery.config.num_replicas };
  const existing = await jsm.streams.info(deadLetterStream).catch(() => undefined);
  if (!existing) await jsm.streams.add({ name: deadLetterStream, ...config, storage: StorageType.File, retention: RetentionPolicy.Workqueue });
  else if (existing.config.num_replicas !== config.num_replicas || existing.config.max_age !== config.max_age) await jsm.streams.update(deadLetterStream, config);
  await jsm.consumers.add(deadLetterStream, { durable_name: reconciler, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(30_000) });
  ensured.add(jsm);
}

/** Whether the hub has taken every receipt JetStream holds (so an answered delivery has its answer in the log). */
async function receiptsSettled(jsm: JetStreamManager, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const info = await jsm.consumers.info(receiptStream, 'hub-receipts').catch(() => undefined);
    if (info && info.num_pending === 0 && info.num_ack_pending === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const answered = async (log: EventStore, deliveryId: string): Promise<boolean> => {
  for await (const e of log.readStream(deliveryStream(deliveryId))) if (e.type === 'DeliveryAcknowledged' || e.type === 'DeliveryRejected' || e.type === 'DeliveryDeadLettered') return true;
  return false;
};

/** Records the dead letter one advisory names; true when it wrote one. */
async function recordAdvisory(m: JsMsg, options: ReconcileOptions): Promise<boolean> {
  const { jsm, log } = options;
  const now = options.now ?? (() => new Date());
  let advisory: { stream?: unknown; consumer?: unknown; stream_seq?: unknown; deliveries?: unknown };
  try {
    advisory = JSON.parse(new TextDecoder().decode(m.data)) as typeof advisory;
  } catch {
    return false;
  }
  if (typeof advisory.stream !== 'string' || typeof advisory.consumer !== 'string' || typeof advisory.stream_seq !== 'number') return false;
  // The delivery message itself: gone (an erased case's deliveries are deleted, or it aged out), nothing to record.
  const msg = await jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq }).catch(() => null);
  const deliveryId = msg?.header?.get('Nats-Msg-Id');
  if (!msg || !deliveryId) return false;
  const messageId = hubDerivedUuid('dead-letter', deliveryId);
  if (await answered(log, deliveryId)) return false;
  let recipient = 'xx:unknown';
  try {
    recipient = (JSON.parse(new TextDecoder().decode(msg.data)) as { payload?: { recipient?: { dvdv?: string } } }).payload?.recipient?.dvdv ?? recipient;
  } catch {
    // an unreadable delivery still was given up
  }
  const attempts = typeof advisory.deliveries === 'number' && advisory.deliveries > 0 ? advisory.deliveries : 1;
  const event: DeliveryDeadLettered = {
    messageId,
    type: 'DeliveryDeadLettered',
    schemaVersion: 1,
    occurredAt: now().toISOString(),
    producer: hubProducer as unknown as DeliveryDeadLettered['producer'],
    legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
    purpose: 'Record of a hand-off to a benefit agency',
    correlationId: deliveryId,
    causationId: deliveryId,
    data: { deliveryId, recipient: recipient as DeliveryDeadLettered['data']['recipient'], deliveryAttempts: attempts, stream: advisory.stream, consumer: advisory.consumer },
  };
  try {
    await log.append(deliveryStream(deliveryId), [toRecord(event, { reconciled: true, advisorySeq: m.seq })]);
    return true;
  } catch (error) {
    if (error instanceof DuplicateEventIdError) return false;
    throw error;
  }
}

/** Records a dead letter for every advisory the stream holds; returns how many it recorded. */
export async function reconcileDeadLetters(options: ReconcileOptions): Promise<number> {
  const { jsm } = options;
  await ensureDeadLetterStream(jsm);
  const pending = (await jsm.consumers.info(deadLetterStream, reconciler)).num_pending;
  if (pending === 0) return 0;
  // Receipts first: a delivery answered just before it was given up is not dead-lettered.
  if (!(await receiptsSettled(jsm, options.receiptsSettleMs ?? 10_000))) return 0;
  const consumer = await jsm.jetstream().consumers.get(deadLetterStream, reconciler);
  let recorded = 0;
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
    let seen = 0;
    for await (const m of batch) {
      seen++;
      if (await recordAdvisory(m, options)) recorded++;
      // Acknowledged only once the log holds the answer (an error above leaves it for the next run).
      m.ack();
    }
    if (seen === 0) break;
  }
  return recorded;
}
