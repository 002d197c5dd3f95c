// Receipts: agencies publish signed receipts carrying the hash of exactly what they received.
// The hub verifies each (signature, signer = the delivery's recipient, hash = the scheduled
// payload hash) and appends `DeliveryAcknowledged` or `DeliveryRejected` to the delivery's
// stream; redelivered receipts are stored once (deterministic event ids). Deliveries that
// exceed the redelivery limit become `DeliveryDeadLettered`, from JetStream's advisories.
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  deterministicUuid,
  receiptStream,
  deliveryStream as deliveryJsStream,
  SignedReceiptSchema,
  type DeliveryAcknowledged,
  type DeliveryDeadLettered,
  type DeliveryRejected,
  type Verifier,
} from '../../../contracts/index.ts';
import type { EventStore } from '../log/eventStore.ts';
import { fromRecord, hubProducer, securityEvent, toRecord } from '../log/records.ts';
import { deliveryStream, securityStream } from '../log/streams.ts';

export interface ReceiptOptions {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  readonly verifier: Verifier;
  readonly now?: () => Date;
}

export interface ReceiptProcessor {
  readonly stats: { acknowledged: number; rejected: number; deadLettered: number; refused: number };
  stop(): Promise<void>;
}

const decoder = new TextDecoder();
const envelope = (messageId: string, now: Date, correlationId: string) => ({
  messageId,
  schemaVersion: 1 as const,
  occurredAt: now.toISOString(),
  producer: hubProducer as unknown as DeliveryAcknowledged['producer'],
  legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
  purpose: 'Record of a hand-off to a benefit agency',
  correlationId,
  causationId: correlationId,
});

export async function startReceiptProcessor(options: ReceiptOptions): Promise<ReceiptProcessor> {
  const { nc, js, jsm, log, verifier } = options;
  const now = options.now ?? (() => new Date());
  const stats = { acknowledged: 0, rejected: 0, deadLettered: 0, refused: 0 };
  const refuse = async (code: string, reason: string, dvdv?: string) => {
    stats.refused++;
    await log.append(securityStream, [toRecord(securityEvent(now(), { code, reason, subject: dvdv ? { dvdv } : {}, messageType: 'Receipt' }))]);
  };

  async function handle(data: Uint8Array): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(data));
    } catch {
      return refuse('malformed', 'receipt is not JSON');
    }
    const parsed = SignedReceiptSchema.safeParse(json);
    if (!parsed.success) return refuse('malformed', `receipt does not match the contract: ${parsed.error.issues[0]?.message ?? ''}`);
    const receipt = parsed.data.payload;
    const signer = verifier.verify(receipt, parsed.data.signature, now());
    if (!signer.success) return refuse(signer.error.code, signer.error.message, receipt.recipient);
    if (signer.data.dvdv !== receipt.recipient || (signer.data.role !== 'elterngeldstelle' && signer.data.role !== 'familienkasse')) {
      return refuse('producer-mismatch', `receipt for ${receipt.recipient} signed by ${signer.data.dvdv}`, signer.data.dvdv);
    }
    const stored = await log.getByEventId(receipt.deliveryId);
    const scheduled = stored && fromRecord(stored);
    if (!scheduled || scheduled.type !== 'DeliveryScheduled') return refuse('unknown-delivery', `no delivery ${receipt.deliveryId}`, signer.data.dvdv);
    if (scheduled.data.recipient.dvdv !== receipt.recipient) return refuse('wrong-recipient', `delivery ${receipt.deliveryId} was not for ${receipt.recipient}`, signer.data.dvdv);
    const base = { deliveryId: receipt.deliveryId, recipient: receipt.recipient, receivedHash: receipt.receivedHash, receivedAt: receipt.receivedAt };
    const correlationId = scheduled.correlationId;
    const hashMatches = receipt.receivedHash === scheduled.data.payloadHash;
    if (receipt.status === 'acknowledged' && hashMatches) {
      const messageId = deterministicUuid('receipt', receipt.deliveryId, 'acknowledged');
      if (await log.getByEventId(messageId)) return; // a redelivered receipt: recorded once
      const event: DeliveryAcknowledged = { ...envelope(messageId, now(), correlationId), type: 'DeliveryAcknowledged', data: { ...base, ...(receipt.agencyReference ? { agencyReference: receipt.agencyReference } : {}) } };
      await log.append(deliveryStream(receipt.deliveryId), [toRecord(event, { signerKeyId: signer.data.keyId })]);
      stats.acknowledged++;
      return;
    }
    // The agency rejected it, or acknowledged something other than what was sent.
    const reasonCode = receipt.status === 'rejected' ? (receipt.reasonCode ?? 'rejected') : 'hash-mismatch';
    const reason = receipt.status === 'rejected' ? (receipt.reason ?? '') : 'the receipt acknowledges other bytes than the hub delivered';
    const messageId = deterministicUuid('receipt', receipt.deliveryId, 'rejected', reasonCode);
    if (await log.getByEventId(messageId)) return;
    const event: DeliveryRejected = { ...envelope(messageId, now(), correlationId), type: 'DeliveryRejected', data: { ...base, reasonCode, reason } };
    await log.append(deliveryStream(receipt.deliveryId), [toRecord(event, { signerKeyId: signer.data.keyId })]);
    stats.rejected++;
  }

  await jsm.consumers.add(receiptStream, { durable_name: 'hub-receipts', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'elfe.receipt.>' });
  const consumer = await js.consumers.get(receiptStream, 'hub-receipts');
  const messages = await consumer.consume({ max_messages: 256 });
  const receiptsDone = (async () => {
    for await (const m of messages) {
      try {
        await handle(m.data);
        m.ack();
      } catch {
        m.nak(1000);
      }
    }
  })();

  // Max-deliveries advisories are core NATS messages: a dead letter is recorded when the
  // hub is running as the limit is reached.
  const advisories: Subscription = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${deliveryJsStream}.*`);
  const advisoriesDone = (async () => {
    for await (const m of advisories) {
      try {
        const advisory = JSON.parse(decoder.decode(m.data)) as { stream: string; consumer: string; stream_seq: number; deliveries: number };
        const msg = await jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq });
        const deliveryId = msg?.header.get('Nats-Msg-Id');
        if (!msg || !deliveryId) continue;
        const delivery = JSON.parse(decoder.decode(msg.data)) as { payload?: { recipient?: { dvdv?: string } } };
        const messageId = deterministicUuid('dead-letter', deliveryId);
        if (await log.getByEventId(messageId)) continue;
        const event: DeliveryDeadLettered = {
          ...envelope(messageId, now(), deliveryId),
          type: 'DeliveryDeadLettered',
          data: { deliveryId, recipient: (delivery.payload?.recipient?.dvdv ?? 'xx:unknown') as DeliveryDeadLettered['data']['recipient'], deliveryAttempts: advisory.deliveries, stream: advisory.stream, consumer: advisory.consumer },
        };
        await log.append(deliveryStream(deliveryId), [toRecord(event)]);
        stats.deadLettered++;
      } catch {
        // A malformed advisory changes nothing in the log.
      }
    }
  })();

  return {
    stats,
    async stop() {
      await messages.close();
      advisories.unsubscribe();
      await Promise.all([receiptsDone, advisoriesDone]);
    },
  };
}
