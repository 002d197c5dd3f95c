// An erased case's deliveries leave JetStream too: the stream keeps what it was sent (limits
// retention: acknowledged or not, until `max_age`), ciphertext only, but no copy of an erased
// case should outlive its erasure. For each recipient `CaseErased` names, the delivery
// messages are found by their Nats-Msg-Id (= delivery id) on the recipient's delivery subject,
// reading headers only from shortly before the deliveries were scheduled, and deleted by
// stream sequence (securely: JetStream overwrites the stored bytes). Ids the stream no longer
// holds (expired, deleted before) count as gone: a replay of the same `CaseErased` deletes
// nothing twice and fails on nothing.
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { deliveryStream, deliverySubject, type CaseErased } from '../../../contracts/index.ts';
import type { EventStore } from '../log/eventStore.ts';

/** What a purge did for one recipient: ids and counts only. */
export interface PurgeReport {
  readonly caseId: string;
  readonly recipient: string;
  readonly deliveryIds: readonly string[];
  /** Delivery messages deleted from the stream now. */
  readonly deleted: number;
  /** Delivery ids the stream no longer held (expired by `max_age`, or deleted by an earlier run). */
  readonly gone: number;
  /** Why the stream was not read: every delivery is older than the stream keeps any message. */
  readonly skipped?: 'expired';
}

/** Clock skew allowed between the log's recording time and the stream's storing time. */
const skewMs = 5 * 60_000;
const msgIdHeader = 'Nats-Msg-Id';
const noMessage = (error: unknown) => /no message found|not found/i.test((error as Error)?.message ?? '');

/**
 * The stream sequences of the messages on `subject` whose Nats-Msg-Id is one of `ids`, read
 * headers only (an ephemeral consumer in memory, deleted after) from `startTime` on.
 */
async function sequencesOf(js: JetStreamClient, jsm: JetStreamManager, subject: string, ids: ReadonlySet<string>, startTime: Date | undefined): Promise<Map<string, number>> {
  const info = await jsm.consumers.add(deliveryStream, {
    ack_policy: AckPolicy.None,
    ...(startTime ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime.toISOString() } : { deliver_policy: DeliverPolicy.All }),
    filter_subject: subject,
    headers_only: true,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(60_000),
  });
  const found = new Map<string, number>();
  try {
    let pending = info.num_pending;
    if (pending === 0) return found;
    const consumer = await js.consumers.get(deliveryStream, info.name);
    while (pending > 0 && found.size < ids.size) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, 512), expires: 5000 });
      let read = 0;
      for await (const m of batch) {
        read++;
        pending = m.info.pending;
        const id = m.headers?.get(msgIdHeader);
        if (id && ids.has(id)) found.set(id, m.seq);
      }
      if (read === 0) throw new Error(`reading ${subject} stopped with ${pending} messages left`);
    }
    return found;
  } finally {
    await jsm.consumers.delete(deliveryStream, info.name).catch(() => undefined);
  }
}

/** Deletes the erased case's delivery messages from the delivery stream, recipient by recipient. */
export async function purgeErasedDeliveries(js: JetStreamClient, jsm: JetStreamManager, log: EventStore, erased: CaseErased, now: Date = new Date()): Promise<PurgeReport[]> {
  const recipients = erased.data.recipients ?? [];
  if (recipients.length === 0) return [];
  const maxAgeMs = (await jsm.streams.info(deliveryStream)).config.max_age / 1e6;
  const reports: PurgeReport[] = [];
  for (const recipient of recipients) {
    const ids = new Set(recipient.deliveryIds);
    // When each delivery was scheduled (clear metadata of its entry, sealed or not): the relay
    // publishes it after that, so the stream is read from just before the earliest.
    const scheduledAt: number[] = [];
    for (const id of ids) {
      const stored = await log.getByEventId(id);
      if (stored) scheduledAt.push(Date.parse(stored.recordedAt));
    }
    const earliest = scheduledAt.length === ids.size && scheduledAt.length > 0 ? Math.min(...scheduledAt) : undefined;
    const base = { caseId: erased.data.caseId, recipient: recipient.dvdv, deliveryIds: [...ids] };
    // Older than twice what the stream keeps (a relay late by up to `max_age` included): gone by itself.
    if (maxAgeMs > 0 && earliest !== undefined && Math.max(...scheduledAt) < now.getTime() - 2 * maxAgeMs) {
      reports.push({ ...base, deleted: 0, gone: ids.size, skipped: 'expired' });
      continue;
    }
    const found = await sequencesOf(js, jsm, deliverySubject(recipient.dvdv), ids, earliest === undefined ? undefined : new Date(earliest - skewMs));
    let deleted = 0;
    for (const seq of found.values()) {
      try {
        if (await jsm.streams.deleteMessage(deliveryStream, seq, true)) deleted++;
      } catch (error) {
        // Expired or deleted meanwhile: gone all the same.
        if (!noMessage(error)) throw error;
      }
    }
    reports.push({ ...base, deleted, gone: ids.size - deleted });
  }
  return reports;
}
