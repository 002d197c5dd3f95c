// The routing shell: tails the log, folds each birth case through the pure decider, and
// appends every decision as a `DeliveryScheduled` event to the case's stream. Delivery ids
// are the event ids, so a restart that replays the log stores nothing twice.
import type { KeyObject } from 'node:crypto';
import { encryptPayload, type DeliveryScheduled } from '../../../contracts/index.ts';
import { DuplicateEventIdError, WrongExpectedRevisionError, type EventStore, type StoredEvent, type Subscription } from '../log/eventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { decide, evolve, initialState, isDecision, type CaseState, type DeliveryDecision } from '../routing/birthCase.ts';
import type { RoutingTable } from '../routing/routingTable.ts';

export interface SchedulerOptions {
  readonly log: EventStore;
  readonly table: RoutingTable;
  /** Told about cases that no table entry covers (they stay visible in the hub's status). */
  readonly onUnroutable?: (stream: string, reason: string) => void;
  /**
   * Confidential payloads: the recipient's current certificate key, or why there is none
   * (e.g. the certificate expired). Without it, payloads are kept in plain text.
   */
  readonly encryptFor?: (dvdv: string) => { key: KeyObject } | { reason: string };
  /** Told about deliveries held back because the recipient cannot receive them now. */
  readonly onUndeliverable?: (deliveryId: string, recipient: string, reason: string, stream: string) => void;
}

export interface Scheduler {
  readonly stats: { scheduled: number; unroutable: number; dropped: number; undeliverable: number; position: number };
  stop(): Promise<void>;
}

/** Deterministic in its inputs (time = when the causing event was recorded), so a replay writes identical bytes. */
function scheduledEvent(decision: DeliveryDecision, correlationId: string, decidedAt: string, payloadJwe?: string): DeliveryScheduled {
  return {
    messageId: decision.deliveryId,
    type: 'DeliveryScheduled',
    schemaVersion: 1,
    occurredAt: decidedAt,
    producer: hubProducer as unknown as DeliveryScheduled['producer'],
    legalBasis: decision.legalBasis,
    purpose: decision.purpose,
    correlationId,
    causationId: decision.causationId,
    data: {
      deliveryId: decision.deliveryId,
      registerKey: decision.payload.registerKey,
      recipient: decision.recipient,
      kind: decision.kind,
      legalBasis: decision.legalBasis,
      purpose: decision.purpose,
      ...(payloadJwe ? { payloadJwe } : { payload: decision.payload }),
      payloadHash: decision.payloadHash,
    },
  };
}

/**
 * Appends a decision at the case revision it was made on. If the case moved on meanwhile
 * (the scheduler lags behind the ingress), the newer events are checked first: after a
 * consent withdrawal, a delivery to the Elterngeldstelle is not made any more.
 */
const isSameDecision = (newer: StoredEvent, scheduled: DeliveryScheduled): boolean => {
  const event = fromRecord(newer);
  return event?.type === 'DeliveryScheduled' && event.causationId === scheduled.causationId && event.data.recipient.dvdv === scheduled.data.recipient.dvdv;
};

async function appendDecision(log: EventStore, stored: StoredEvent, scheduled: DeliveryScheduled, revision: number): Promise<number | 'dropped' | 'already-scheduled'> {
  let expected = revision;
  for (;;) {
    try {
      return (await log.append(stored.stream, [toRecord(scheduled)], expected)).nextExpectedRevision;
    } catch (error) {
      if (error instanceof DuplicateEventIdError) {
        // Scheduled before with other bytes (a fresh JWE on replay): keep the first. Delivery ids
        // lie in the hub's namespace, so the holder can only be this case's own delivery;
        // anything else is a broken invariant, and loud.
        const holder = await log.getByEventId(scheduled.messageId);
        if (holder?.stream === stored.stream && holder.type === 'DeliveryScheduled') return expected;
        throw error;
      }
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      for await (const newer of log.readStream(stored.stream, { fromRevision: expected + 1 })) {
        if (newer.type === 'ParentalConsentWithdrawn' && scheduled.data.recipient.role === 'elterngeldstelle') return 'dropped';
        // Already scheduled for the same cause and recipient (a replay of a log whose delivery
        // ids were derived before they moved to the hub's namespace): nothing to add.
        if (newer.type === 'DeliveryScheduled' && isSameDecision(newer, scheduled)) return 'already-scheduled';
        expected = newer.streamRevision;
      }
    }
  }
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { log, table } = options;
  const cases = new Map<string, CaseState>();
  /** Revision of each case stream as far as the scheduler has seen or written it. */
  const revisions = new Map<string, number>();
  const stats = { scheduled: 0, unroutable: 0, dropped: 0, undeliverable: 0, position: 0 };
  const subscription: Subscription = log.subscribe(0);
  const done = (async () => {
    for await (const stored of subscription) {
      stats.position = stored.position + 1;
      if (!stored.stream.startsWith('birth-')) continue;
      // An erased case is routed no more (its earlier entries no longer open after a restart).
      if (stored.type === 'CaseErased') {
        cases.delete(stored.stream);
        continue;
      }
      const event = fromRecord(stored);
      revisions.set(stored.stream, Math.max(revisions.get(stored.stream) ?? -1, stored.streamRevision));
      if (!event) continue;
      let state = cases.get(stored.stream) ?? initialState;
      const decisions = decide(state, event, table);
      state = evolve(state, event);
      for (const d of decisions) {
        if (!isDecision(d)) {
          stats.unroutable++;
          options.onUnroutable?.(stored.stream, d.reason);
          continue;
        }
        let payloadJwe: string | undefined;
        if (options.encryptFor) {
          const target = options.encryptFor(d.recipient.dvdv);
          if ('reason' in target) {
            // Held back, visibly: a later event of the case (or a restart) decides it again.
            stats.undeliverable++;
            options.onUndeliverable?.(d.deliveryId, d.recipient.dvdv, target.reason, stored.stream);
            continue;
          }
          payloadJwe = await encryptPayload(d.payload, target.key, d.deliveryId);
        }
        const scheduled = scheduledEvent(d, event.correlationId, stored.recordedAt, payloadJwe);
        const written = await appendDecision(log, stored, scheduled, revisions.get(stored.stream)!);
        if (written === 'dropped') {
          stats.dropped++;
          continue;
        }
        if (written === 'already-scheduled') continue;
        revisions.set(stored.stream, Math.max(revisions.get(stored.stream)!, written));
        // Applied at once, so that the next event of the case sees it even before the log echoes it.
        state = evolve(state, scheduled);
        stats.scheduled++;
      }
      cases.set(stored.stream, state);
    }
  })();
  return {
    stats,
    async stop() {
      await subscription.close();
      await done;
    },
  };
}
