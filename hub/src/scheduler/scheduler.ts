// The routing shell: tails the log, folds each birth case through the pure decider, and
// appends the decisions an event causes, together, as `DeliveryScheduled` events to the
// case's stream. Delivery ids are the event ids, so deciding an event again stores nothing
// twice. The scheduler keeps its position in a file (below it every event is decided) and
// resumes there; a case's state comes from a bounded cache or, on a miss, from the case's own
// stream: neither start time nor memory grows with the history. A delivery held back because
// its recipient has no usable certificate is asked about again every few seconds and
// scheduled as soon as the recipient has one.
import type { KeyObject } from 'node:crypto';
import { encryptPayload, encryptReason, hubDerivedUuid, type CaseErased, type DeliveryScheduled, type ErasureNoticeScheduled } from '../../../contracts/index.ts';
import { DuplicateEventIdError, WrongExpectedRevisionError, type EventStore, type StoredEvent, type Subscription } from '../log/eventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { erasureStream } from '../log/streams.ts';
import { CaseErasedError } from '../log/caseLog.ts';
import { KeyedLanes } from '../infra/keyedLanes.ts';
import { isStorageFull } from '../log/storageHealth.ts';
import { positionKeeper, readPositionFile } from '../infra/positionFile.ts';
import { decide, evolve, initialState, isDecision, type CaseState, type DeliveryDecision } from '../routing/birthCase.ts';
import type { RoutingTable } from '../routing/routingTable.ts';
import { backoffMs, type Component } from '../../../connectors/kit/lifecycle.ts';

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
  /** Told when a held-back delivery is held no more: scheduled, dropped (consent withdrawn, case erased) or superseded by a newer decision. */
  readonly onReleased?: (deliveryId: string, recipient: string, stream: string, outcome: 'scheduled' | 'dropped' | 'superseded') => void;
  /** Told when asking again for a held-back delivery failed (it stays held and is asked about again). */
  readonly onRetryFailed?: (error: Error) => void;
  /** Where the scheduler reports a decision it could not make (logged, counted, unhealthy; decided again after the back-off). */
  readonly component?: Component;
  /** How often held-back deliveries are asked about again (default 2 s). */
  readonly heldBackRetryMs?: number;
  /** Held-back deliveries retried at most (default 10 000); beyond, only a restart decides them again. */
  readonly maxHeldBack?: number;
  /** Where the scheduler keeps its position; without it, it decides from the start of the log. */
  readonly positionFile?: string;
  /** Case states kept in memory (default 10 000); others are read from their streams. */
  readonly cachedCases?: number;
  /** Cases decided at once (default 64). */
  readonly concurrency?: number;
}

export interface Scheduler {
  /** `undeliverable` counts deliveries held back, `heldBack` those held back now, `retryFailed` failed attempts to release one. */
  readonly stats: { scheduled: number; unroutable: number; dropped: number; undeliverable: number; heldBack: number; retryFailed: number; position: number; resumedFrom: number; casesRead: number; erasureNotices: number };
  stop(): Promise<void>;
}

/**
 * Deterministic in its inputs (time = when the causing event was recorded), so a replay writes
 * identical bytes. A correction's reason goes encrypted (`reasonJwe`) whenever the payload does.
 */
export function scheduledEvent(decision: DeliveryDecision, correlationId: string, decidedAt: string, payloadJwe?: string, reasonJwe?: string): DeliveryScheduled {
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
 * The erasure notices of an erased case, one per recipient of its deliveries (Art. 19 DSGVO).
 * Ids derived from case and recipient, time = when the erasure was recorded: a replay writes
 * the same entries, which the log stores once.
 */
export function erasureNotices(erased: CaseErased, recordedAt: string): ErasureNoticeScheduled[] {
  const { caseId, erasedAt, reason } = erased.data;
  return (erased.data.recipients ?? []).map(({ deliveryIds, ...recipient }) => {
    const noticeId = hubDerivedUuid('erasure-notice', caseId, recipient.dvdv);
    return {
      messageId: noticeId,
      type: 'ErasureNoticeScheduled',
      schemaVersion: 1,
      occurredAt: recordedAt,
      producer: hubProducer as unknown as ErasureNoticeScheduled['producer'],
      legalBasis: 'Art. 19 DSGVO',
      purpose: 'Notice to a recipient that a birth case it received was erased',
      correlationId: erased.messageId,
      causationId: erased.messageId,
      data: { noticeId, caseId, recipient, deliveryIds, erasedAt, reason, legalBasis: erased.legalBasis },
    };
  });
}

/** Appends the erasure notices of a case; those the log holds from before stay as they are. */
async function appendNotices(log: EventStore, notices: readonly ErasureNoticeScheduled[]): Promise<number> {
  let written = 0;
  for (const notice of notices) {
    try {
      await log.append(erasureStream(notice.data.caseId), [toRecord(notice)]);
      written++;
    } catch (error) {
      if (!(error instanceof DuplicateEventIdError)) throw error;
    }
  }
  return written;
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

/** A decision with what it was decided on: enough to schedule it later, at the causing event's revision. */
interface Pending {
  readonly decision: DeliveryDecision;
  readonly stream: string;
  readonly position: number;
  readonly revision: number;
  readonly recordedAt: string;
  readonly correlationId: string;
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
  const stats = { scheduled: 0, unroutable: 0, dropped: 0, undeliverable: 0, heldBack: 0, retryFailed: 0, position: from, resumedFrom: from, casesRead: 0, erasureNotices: 0 };
  /** Deliveries held back, by case and recipient (a newer decision for both replaces one): asked about again every `heldBackRetryMs`. */
  const heldBack = new Map<string, Pending>();
  const maxHeldBack = options.maxHeldBack ?? 10_000;
  const heldKey = (p: Pending) => `${p.stream} ${p.decision.recipient.dvdv}`;
  /** The first event with a held-back delivery not kept in `heldBack` (beyond `maxHeldBack`). */
  let notRetried = Number.POSITIVE_INFINITY;
  /** The first event with a delivery held back: the kept position stays before it, so a restart decides it again. */
  let firstHeldBack = Number.POSITIVE_INFINITY;
  /** The first event whose decisions could not be written before a stop (a full disk): a restart decides it again. */
  let undecided = Number.POSITIVE_INFINITY;
  let stopping = false;
  /** End the waits between attempts while the disk is full (on stop). */
  const wakers = new Set<() => void>();
  const position = positionKeeper(options.positionFile, () => Math.min(firstHeldBack, undecided, stats.position), from, 1000);
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
            await decideUntilWritten(stored);
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

  const hold = (p: Pending, reason: string) => {
    const earlier = heldBack.get(heldKey(p));
    if (earlier?.decision.deliveryId === p.decision.deliveryId) return; // still held back, told before
    if (earlier) forget(earlier, 'superseded');
    stats.undeliverable++;
    if (heldBack.size < maxHeldBack) heldBack.set(heldKey(p), p);
    else notRetried = Math.min(notRetried, p.position);
    firstHeldBack = Math.min(firstHeldBack, p.position);
    stats.heldBack = heldBack.size;
    options.onUndeliverable?.(p.decision.deliveryId, p.decision.recipient.dvdv, reason, p.stream);
  };
  const forget = (p: Pending, outcome: 'scheduled' | 'dropped' | 'superseded') => {
    heldBack.delete(heldKey(p));
    stats.heldBack = heldBack.size;
    if (p.position === firstHeldBack) firstHeldBack = Math.min(notRetried, ...[...heldBack.values()].map((h) => h.position));
    position.advanced();
    options.onReleased?.(p.decision.deliveryId, p.decision.recipient.dvdv, p.stream, outcome);
  };

  const retryFailed = (error: Error) => {
    stats.retryFailed++;
    if (options.onRetryFailed) options.onRetryFailed(error);
    else console.error('scheduler: asking again for a held-back delivery failed', error);
  };

  /** The decision as the log keeps it, encrypted for the recipient's current key; without one it is held back, visibly. */
  async function toScheduled(p: Pending): Promise<DeliveryScheduled | undefined> {
    const d = p.decision;
    let payloadJwe: string | undefined;
    let reasonJwe: string | undefined;
    if (options.encryptFor) {
      const target = options.encryptFor(d.recipient.dvdv);
      if ('reason' in target) {
        hold(p, target.reason);
        return undefined;
      }
      payloadJwe = await encryptPayload(d.payload, target.key, d.deliveryId);
      if (d.correction) reasonJwe = await encryptReason(d.correction.reason, target.key, d.deliveryId);
    }
    const earlier = heldBack.get(heldKey(p));
    if (earlier && earlier !== p) forget(earlier, 'superseded');
    return scheduledEvent(d, p.correlationId, p.recordedAt, payloadJwe, reasonJwe);
  }

  /** Schedules a held-back delivery whose recipient has a key now, at its causing event's revision (a withdrawal since drops it). */
  async function release(p: Pending): Promise<void> {
    if (heldBack.get(heldKey(p)) !== p) return; // superseded or dropped meanwhile
    try {
      const scheduled = await toScheduled(p);
      if (!scheduled) return;
      const result = await appendDecisions(log, p.stream, [scheduled], p.revision);
      stats.dropped += result.dropped;
      stats.scheduled += result.written.length;
      const known = cases.get(p.stream);
      if (known) {
        known.revision = Math.max(known.revision, result.revision);
        for (const s of result.written) known.state = evolve(known.state, s);
      }
      forget(p, result.dropped > 0 ? 'dropped' : 'scheduled');
    } catch (error) {
      retryFailed(error as Error);
    }
  }

  /** Asks once per recipient whether it has a key now; its held-back deliveries are released in their cases' lanes. */
  async function retryHeldBack(): Promise<void> {
    const usable = new Map<string, boolean>();
    const ready = [...heldBack.values()].filter((p) => {
      const dvdv = p.decision.recipient.dvdv;
      if (!usable.has(dvdv)) usable.set(dvdv, options.encryptFor !== undefined && !('reason' in options.encryptFor(dvdv)));
      return usable.get(dvdv);
    });
    const released = ready.map(
      (p) =>
        new Promise<void>((resolve) => {
          lanes.run(p.stream, () => release(p).finally(resolve)).catch((error: Error) => {
            retryFailed(error);
            resolve();
          });
        }),
    );
    await Promise.all(released);
  }
  let retrying: Promise<void> | undefined;
  const retryTimer = setInterval(() => {
    if (retrying || heldBack.size === 0) return;
    retrying = retryHeldBack()
      .catch(retryFailed)
      .finally(() => (retrying = undefined));
  }, options.heldBackRetryMs ?? 2000);
  retryTimer.unref();

  /**
   * Decides on an event. While the disk is full its decisions cannot be written: it is decided
   * again, from the log as a restart would, until they are (the case's later events wait
   * behind it); the hub does not stop, and nothing is skipped. Stopped meanwhile, the kept
   * position stays before it.
   */
  async function decideUntilWritten(stored: StoredEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        options.component?.checkFault();
        await decideOn(stored);
        options.component?.succeeded();
        return;
      } catch (error) {
        // Any other failure is reported (logged, counted, unhealthy) and decided again after the back-off, not skipped.
        if (!isStorageFull(error)) {
          if (!options.component) throw error;
          options.component.failed(error, { position: stored.position });
        }
        cases.delete(stored.stream);
      }
      const waitMs = backoffMs(attempt, { baseMs: 250, maxMs: 5000 });
      if (!stopping) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            wakers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, waitMs);
          wakers.add(wake);
        });
      }
      if (stopping) {
        undecided = Math.min(undecided, stored.position);
        return;
      }
    }
  }

  async function decideOn(stored: StoredEvent): Promise<void> {
    // An erased case is routed no more (its entries no longer open).
    if (stored.type === 'CaseErased') {
      cases.delete(stored.stream);
      for (const p of heldBack.values()) if (p.stream === stored.stream) forget(p, 'dropped');
      // Its recipients are told: the entry names them (read before the key was destroyed).
      const erased = fromRecord(stored);
      if (erased?.type === 'CaseErased') stats.erasureNotices += await appendNotices(log, erasureNotices(erased, stored.recordedAt));
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
      const s = await toScheduled({ decision: d, stream: stored.stream, position: stored.position, revision: stored.streamRevision, recordedAt: stored.recordedAt, correlationId: event.correlationId });
      if (s) scheduled.push(s);
    }
    if (scheduled.length > 0) {
      let result: Awaited<ReturnType<typeof appendDecisions>>;
      try {
        result = await appendDecisions(log, stored.stream, scheduled, known.revision);
      } catch (error) {
        // Erased while it was being decided (an erasure on the running hub): nothing more goes out.
        if (!(error instanceof CaseErasedError)) throw error;
        stats.dropped += scheduled.length;
        cases.delete(stored.stream);
        return;
      }
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
      stopping = true;
      for (const wake of [...wakers]) wake();
      clearInterval(retryTimer);
      await retrying;
      await subscription.close();
      await done;
      position.flush();
    },
  };
}
