// The routing shell: tails the log, folds each birth case through the pure decider, and
// appends every decision as a `DeliveryScheduled` event to the case's stream. Delivery ids
// are the event ids, so a restart that replays the log stores nothing twice.
import type { DeliveryScheduled } from '../../../contracts/index.ts';
import type { EventStore, Subscription } from '../log/eventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { decide, evolve, initialState, isDecision, type CaseState, type DeliveryDecision } from '../routing/birthCase.ts';
import type { RoutingTable } from '../routing/routingTable.ts';

export interface SchedulerOptions {
  readonly log: EventStore;
  readonly table: RoutingTable;
  readonly now?: () => Date;
  /** Told about cases that no table entry covers (they stay visible in the hub's status). */
  readonly onUnroutable?: (stream: string, reason: string) => void;
}

export interface Scheduler {
  readonly stats: { scheduled: number; unroutable: number; position: number };
  stop(): Promise<void>;
}

function scheduledEvent(decision: DeliveryDecision, correlationId: string, now: Date): DeliveryScheduled {
  return {
    messageId: decision.deliveryId,
    type: 'DeliveryScheduled',
    schemaVersion: 1,
    occurredAt: now.toISOString(),
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
      payload: decision.payload,
      payloadHash: decision.payloadHash,
    },
  };
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { log, table } = options;
  const now = options.now ?? (() => new Date());
  const cases = new Map<string, CaseState>();
  const stats = { scheduled: 0, unroutable: 0, position: 0 };
  const subscription: Subscription = log.subscribe(0);
  const done = (async () => {
    for await (const stored of subscription) {
      stats.position = stored.position + 1;
      if (!stored.stream.startsWith('birth-')) continue;
      const event = fromRecord(stored);
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
        const scheduled = scheduledEvent(d, event.correlationId, now());
        // Applied at once, so that the next event of the case sees it even before the log echoes it.
        state = evolve(state, scheduled);
        await log.append(stored.stream, [toRecord(scheduled)]);
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
