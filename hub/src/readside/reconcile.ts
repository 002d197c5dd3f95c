// Dead letters the hub did not hear about: the max-deliveries advisory is a core NATS message,
// lost while the hub is down. At start and periodically, hand-offs without an answer that are
// older than every redelivery could take are checked against the consumers' state: when the
// recipient's consumer has delivered everything and holds nothing pending, and the hub has
// taken every receipt, no answer can come any more (connectors publish the receipt before
// they ack), so the delivery was given up. It is recorded with the same id the advisory path
// uses, so the two never both write.
import type { JetStreamManager } from '@nats-io/jetstream';
import { consumerName, deliveryStream as deliveryJsStream, hubDerivedUuid, receiptStream, type DeliveryDeadLettered } from '../../../contracts/index.ts';
import { DuplicateEventIdError, type EventStore } from '../log/eventStore.ts';
import { hubProducer, toRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import type { ProjectionStore } from './projectionStore.ts';

export interface ReconcileOptions {
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  readonly store: ProjectionStore;
  readonly limits: { readonly maxDeliver: number; readonly ackWaitMs: number };
  readonly now?: () => Date;
}

/** Records dead letters for given-up deliveries; returns how many it recorded. */
export async function reconcileDeadLetters(options: ReconcileOptions): Promise<number> {
  const { jsm, log, store, limits } = options;
  const now = options.now ?? (() => new Date());
  // Past every redelivery (with slack for backoff and a slow connector).
  const before = new Date(now().getTime() - limits.maxDeliver * limits.ackWaitMs * 2).toISOString();
  const candidates = store.openHandOffs(before, 10_000);
  if (candidates.length === 0) return 0;
  const receipts = await jsm.consumers.info(receiptStream, 'hub-receipts').catch(() => undefined);
  if (!receipts || receipts.num_pending > 0 || receipts.num_ack_pending > 0) return 0;
  const idle = new Map<string, { exhausted: boolean; attempts: number }>();
  let recorded = 0;
  for (const h of candidates) {
    let state = idle.get(h.recipient);
    if (!state) {
      const info = await jsm.consumers.info(deliveryJsStream, consumerName(h.recipient)).catch(() => undefined);
      // Never consumed (the agency is not there yet): waiting, not given up.
      const exhausted = info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0 && info.num_redelivered > 0 && info.delivered.stream_seq > 0;
      state = { exhausted, attempts: info?.config.max_deliver && info.config.max_deliver > 0 ? info.config.max_deliver : limits.maxDeliver };
      idle.set(h.recipient, state);
    }
    if (!state.exhausted) continue;
    const messageId = hubDerivedUuid('dead-letter', h.deliveryId);
    if (await log.getByEventId(messageId)) continue;
    const event: DeliveryDeadLettered = {
      messageId,
      type: 'DeliveryDeadLettered',
      schemaVersion: 1,
      occurredAt: now().toISOString(),
      producer: hubProducer as unknown as DeliveryDeadLettered['producer'],
      legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
      purpose: 'Record of a hand-off to a benefit agency',
      correlationId: h.deliveryId,
      causationId: h.deliveryId,
      data: { deliveryId: h.deliveryId, recipient: h.recipient as DeliveryDeadLettered['data']['recipient'], deliveryAttempts: state.attempts, stream: deliveryJsStream, consumer: consumerName(h.recipient) },
    };
    try {
      await log.append(deliveryStream(h.deliveryId), [toRecord(event, { reconciled: true })]);
      recorded++;
    } catch (error) {
      if (!(error instanceof DuplicateEventIdError)) throw error;
    }
  }
  return recorded;
}
