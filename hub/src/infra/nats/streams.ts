// JetStream streams of the exchange and the agencies' durable consumers.
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { consumerName, deliverySubject, deliveryStream, receiptStream } from '../../../../contracts/index.ts';
import { backoffMs, pause } from '../../../../connectors/kit/lifecycle.ts';

export interface DeliveryLimits {
  /** Deliveries beyond this become dead letters (max-deliveries advisory). */
  readonly maxDeliver: number;
  readonly ackWaitMs: number;
}

export const defaultDeliveryLimits: DeliveryLimits = { maxDeliver: 5, ackWaitMs: 30_000 };

/** How long JetStream keeps a delivery or receipt (it holds ciphertext only, but no copy should outlive its use). */
export const defaultMaxAgeMs = 30 * 24 * 60 * 60 * 1000;

/** Streams for deliveries and receipts: file storage, kept (limits retention), deduplicated by Nats-Msg-Id. */
export async function ensureStreams(jsm: JetStreamManager, options: { duplicateWindowMs?: number; maxAgeMs?: number; replicas?: number } = {}): Promise<void> {
  // On a cluster, each stream (and the consumers, which follow it) is kept on `replicas` nodes.
  const num_replicas = options.replicas ?? 1;
  const duplicate_window = nanos(options.duplicateWindowMs ?? 24 * 60 * 60 * 1000);
  // Copies are bounded: JetStream drops a message this long after it was stored (delivered
  // long before; an agency away longer gets a dead letter, not silence). 30 days by default.
  const max_age = nanos(Math.max(options.maxAgeMs ?? defaultMaxAgeMs, options.duplicateWindowMs ?? 24 * 60 * 60 * 1000));
  const streams = [
    { name: deliveryStream, subjects: ['elfe.delivery.>'] },
    { name: receiptStream, subjects: ['elfe.receipt.>'] },
  ];
  for (const s of streams) {
    const config = { name: s.name, subjects: s.subjects, storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window, max_age, num_replicas };
    try {
      await jsm.streams.info(s.name);
      await jsm.streams.update(s.name, { subjects: s.subjects, duplicate_window, max_age, num_replicas });
    } catch {
      await jsm.streams.add(config);
    }
  }
}

/** The durable pull consumer of one agency, filtered to its own delivery subject. */
export async function ensureAgencyConsumer(jsm: JetStreamManager, dvdv: string, limits: DeliveryLimits = defaultDeliveryLimits): Promise<string> {
  const name = consumerName(dvdv);
  await jsm.consumers.add(deliveryStream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: deliverySubject(dvdv),
    max_deliver: limits.maxDeliver,
    ack_wait: nanos(limits.ackWaitMs),
  });
  return name;
}

/**
 * The JetStream manager once JetStream answers and the streams exist: a cluster that was just
 * started (or lost a node) answers only after electing its meta leader, which takes seconds.
 */
export async function jetStreamWithStreams(nc: NatsConnection, options: { replicas?: number; log?: (line: string) => void; timeoutMs?: number } = {}): Promise<JetStreamManager> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      await ensureStreams(jsm, { ...(options.replicas ? { replicas: options.replicas } : {}) });
      return jsm;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      options.log?.(`waiting for JetStream (attempt ${attempt}: ${(error as Error).message})`);
      await pause(backoffMs(attempt, { baseMs: 200, maxMs: 2000 }));
    }
  }
}
