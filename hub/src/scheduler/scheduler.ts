// The routing shell: tails the log, folds each birth case through the pure decider, and
// appends the decisions an event causes, together, as `DeliveryScheduled` events to the
// case's stream. Delivery ids are the event ids, so deciding an event again stores nothing
// twice. The scheduler keeps its position in a file (below it every event is decided) and
// resumes there; a case's state comes from a bounded cache or, on a miss, from the case's own
// stream: neither start time nor memory grows with the history.
import type { KeyObject } from 'node:crypto';
import { encryptPayload, encryptReason, type DeliveryScheduled } from '../../../contracts/index.ts';
import { DuplicateEventIdError, WrongExpectedRevisionError, type EventStore, type StoredEvent, type Subscription } from '../log/eventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { KeyedLanes } from '../infra/keyedLanes.ts';
import { positionKeeper, readPositionFile } from '../infra/positionFile.ts';
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
  /** Where the scheduler keeps its position; without it, it decides from the start of the log. */
  readonly positionFile?: string;
  /** Case states kept in memory (default 10 000); others are read from their streams. */
  readonly cachedCases?: number;
  /** Cases decided at once (default 64). */
  readonly concurrency?: number;
}

export interface Scheduler {
  readonly stats: { scheduled: number; unroutable: number; dropped: number; undeliverable: number; position: number; resumedFrom: number; casesRead: number };
  stop(): Promise<void>;
}

/**
 * Deterministic in its inputs (time = when the causing event was recorded), so a replay writes
 * identical bytes. A correction's reason goes encrypted (`reasonJwe`) whenever the payload does.
 */
function scheduledEvent(decision: DeliveryDecision, correlationId: string, decidedAt: string, payloadJwe?: string, reasonJwe?: string): DeliveryScheduled {
  const correction = decision.correction;
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
      ...(correction ? { correction: { corrects: correction.corrects, ...(payloadJwe ? { reasonJwe: reasonJwe! } : { reason: correction.reason }) } } : {}),
    },
  };
}

/**
 * Appends an event's decisions together at the case revision they were made on. If the case
 * moved on meanwhile (the scheduler lags behind the ingress), the newer events are checked
 * first: after a consent withdrawal, a delivery to the Elterngeldstelle is not made any more.
 * Returns the decisions the log holds now (written, or found there from before), the stream's
 * revision after them and how many were dropped.
 */
const isSameDecision = (newer: StoredEvent, scheduled: DeliveryScheduled): boolean => {
  const event = fromRecord(newer);
  return event?.type === 'DeliveryScheduled' && event.causationId === scheduled.causationId && event.data.recipient.dvdv === scheduled.data.recipient.dvdv;
};

async function appendDecisions(log: EventStore, stream: string, decisions: DeliveryScheduled[], revision: number): Promise<{ written: DeliveryScheduled[]; revision: number; dropped: number }> {
  let expected = revision;
  let left = decisions;
  let dropped = 0;
  while (left.length > 0) {
    try {
      return { written: left, revision: (await log.append(stream, left.map((d) => toRecord(d)), expected)).nextExpectedRevision, dropped };
    } catch (error) {
      if (error instanceof DuplicateEventIdError) {
        if (left.length > 1) {
          // One of them was scheduled before: settle them one by one.
          const written: DeliveryScheduled[] = [];
          for (const d of left) {
            const one = await appendDecisions(log, stream, [d], expected);
            written.push(...one.written);
            dropped += one.dropped;
            expected = Math.max(expected, one.revision);
          }
          return { written, revision: expected, dropped };
        }
        // Scheduled before with other bytes (a fresh JWE on replay): keep the first. Delivery ids
        // lie in the hub's namespace, so the holder can only be this case's own delivery;
        // anything else is a broken invariant, and loud.
        const holder = await log.getByEventId(left[0]!.messageId);
        if (holder?.stream === stream && holder.type === 'DeliveryScheduled') return { written: left, revision: expected, dropped };
        throw error;
      }
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      for await (const newer of log.readStream(stream, { fromRevision: expected + 1 })) {
        if (newer.type === 'ParentalConsentWithdrawn') {
          const kept = left.filter((d) => d.data.recipient.role !== 'elterngeldstelle');
          dropped += left.length - kept.length;
          left = kept;
        }
        // Already scheduled for the same cause and recipient (a replay of a log whose delivery
        // ids were derived before they moved to the hub's namespace): nothing to add.
        if (newer.type === 'DeliveryScheduled') left = left.filter((d) => !isSameDecision(newer, d));
        expected = newer.streamRevision;
      }
    }
  }
  return { written: [], revision: expected, dropped };
}

/** A case as the scheduler knows it: its state and the stream revision it has seen or written. */
interface KnownCase {
  state: CaseState;
  revision: number;
}

/**
 * A case's state before the entry at `position`, from its stream: every entry before it, and
 * every delivery the hub already scheduled for the case (deciding again what the log holds
 * would only repeat it).
 */
async function readCase(log: EventStore, stream: string, position: number): Promise<KnownCase> {
  let state = initialState;
  let revision = -1;
  for await (const stored of log.readStream(stream)) {
    if (stored.position >= position && stored.type !== 'DeliveryScheduled') continue;
    const event = fromRecord(stored);
    if (event) state = evolve(state, event);
    revision = Math.max(revision, stored.streamRevision);
  }
  return { state, revision };
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { log, table } = options;
  const limit = Math.max(1, options.cachedCases ?? 10_000);
  /** Cases seen lately, least recently used first. */
  const cases = new Map<string, KnownCase>();
  const from = readPositionFile(options.positionFile) ?? 0;
  const stats = { scheduled: 0, unroutable: 0, dropped: 0, undeliverable: 0, position: from, resumedFrom: from, casesRead: 0 };
  /** The first event whose deliveries were held back: the kept position stays before it, so a restart decides them again. */
  let firstHeldBack = Number.POSITIVE_INFINITY;
  const position = positionKeeper(options.positionFile, () => Math.min(firstHeldBack, stats.position), from, 1000);
  /** Events being decided, by position (increasing); below the first, everything is decided. */
  const deciding: number[] = [];
  let seen = from;
  const advance = () => {
    stats.position = deciding[0] ?? seen;
    position.advanced();
  };
  // Cases are decided concurrently, each case's events in log order.
  const lanes = new KeyedLanes(options.concurrency ?? 64);
  const remember = (stream: string, known: KnownCase) => {
    cases.delete(stream);
    cases.set(stream, known);
    if (cases.size > limit) cases.delete(cases.keys().next().value!);
  };
  // Its own decisions come back through the log too; they are already applied, so they stay sealed.
  const subscription: Subscription = log.subscribe(from, { open: (stored) => stored.stream.startsWith('birth-') && stored.type !== 'DeliveryScheduled' });
  const done = (async () => {
    for await (const stored of subscription) {
      if (stored.stream.startsWith('birth-') && stored.type !== 'DeliveryScheduled') {
        deciding.push(stored.position);
        await lanes.run(stored.stream, async () => {
          try {
            await decideOn(stored);
          } finally {
            deciding.splice(deciding.indexOf(stored.position), 1);
            advance();
          }
        });
      }
      seen = stored.position + 1;
      advance();
    }
    await lanes.idle();
  })();

  async function decideOn(stored: StoredEvent): Promise<void> {
    // An erased case is routed no more (its entries no longer open).
    if (stored.type === 'CaseErased') {
      cases.delete(stored.stream);
      return;
    }
    const event = fromRecord(stored);
    if (!event) return;
    let known = cases.get(stored.stream);
    if (!known) {
      known = await readCase(log, stored.stream, stored.position);
      stats.casesRead++;
    }
    known.revision = Math.max(known.revision, stored.streamRevision);
    const decisions = decide(known.state, event, table);
    known.state = evolve(known.state, event);
    const scheduled: DeliveryScheduled[] = [];
    for (const d of decisions) {
      if (!isDecision(d)) {
        stats.unroutable++;
        options.onUnroutable?.(stored.stream, d.reason);
        continue;
      }
      let payloadJwe: string | undefined;
      let reasonJwe: string | undefined;
      if (options.encryptFor) {
        const target = options.encryptFor(d.recipient.dvdv);
        if ('reason' in target) {
          // Held back, visibly: a later event of the case (or a restart) decides it again.
          stats.undeliverable++;
          firstHeldBack = Math.min(firstHeldBack, stored.position);
          options.onUndeliverable?.(d.deliveryId, d.recipient.dvdv, target.reason, stored.stream);
          continue;
        }
        payloadJwe = await encryptPayload(d.payload, target.key, d.deliveryId);
        if (d.correction) reasonJwe = await encryptReason(d.correction.reason, target.key, d.deliveryId);
      }
      scheduled.push(scheduledEvent(d, event.correlationId, stored.recordedAt, payloadJwe, reasonJwe));
    }
    if (scheduled.length > 0) {
      const result = await appendDecisions(log, stored.stream, scheduled, known.revision);
      stats.dropped += result.dropped;
      known.revision = Math.max(known.revision, result.revision);
      // Applied at once, so that the next event of the case sees them even before the log echoes them.
      for (const s of result.written) known.state = evolve(known.state, s);
      stats.scheduled += result.written.length;
    }
    remember(stored.stream, known);
  }

  return {
    stats,
    async stop() {
      await subscription.close();
      await done;
      position.flush();
    },
  };
}
