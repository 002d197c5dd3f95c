// The read side's runner: catches up from the stored position in batches, then follows the
// log live; every few moments it checks deadlines and records overdue and escalated
// hand-offs in the log (hub-derived ids, so a second check or a restart adds nothing), and
// tells the responsible party's webhook. The projections pick those entries up like any other.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hubDerivedUuid, type HandOffEscalated, type HandOffOverdue } from '../../../contracts/index.ts';
import { DuplicateEventIdError, type EventStore, type Subscription } from '../log/eventStore.ts';
import { hubProducer, toRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import { isStorageFull } from '../log/storageHealth.ts';
import { readFact, type ReadFact } from './facts.ts';
import { openProjectionStore, type ProjectionStore } from './projectionStore.ts';
import { deadlinePassed, decisionDeadlinePassed, type HandOffRow } from './status.ts';
import { backoffMs, type Component, type Lifecycle } from '../../../connectors/kit/lifecycle.ts';

export interface EscalationPolicy {
  readonly acknowledgeWithinMs: number;
  readonly escalateAfterMs: number;
  /** Per recipient (DVDV address) deadlines that differ from the defaults. */
  readonly recipients?: Readonly<Record<string, { readonly acknowledgeWithinMs: number; readonly escalateAfterMs: number }>> | undefined;
  /**
   * Per agency kind: how long after its receipt the agency's decision milestone (bewilligt,
   * abgelehnt; ausgezahlt implies one) may take before the hand-off is overdue, and escalated.
   */
  readonly decision?: Readonly<Record<'elterngeldstelle' | 'familienkasse', { readonly decideWithinMs: number; readonly escalateAfterMs: number }>>;
  /** Webhook URL per responsible party (DVDV address). */
  readonly webhooks?: Readonly<Record<string, string>>;
  readonly checkEveryMs?: number | undefined;
}

export interface ReadSideOptions {
  readonly log: EventStore;
  /** `<dataDir>/readside`: the projections' file and the IdNr index key. */
  readonly dir: string;
  readonly escalation: EscalationPolicy;
  readonly now?: () => Date;
  /** Structured log line (never personal data). */
  readonly say?: (event: string, fields?: Record<string, unknown>) => void;
  readonly fetch?: typeof fetch;
  /** The hub secret of tracking codes (tracking/trackingCode.ts): the family page finds cases by their code. */
  readonly trackingKey?: Buffer;
  /** Where the projections report a failure (logged, counted, unhealthy until they follow again). */
  readonly component?: Component;
  /** Runs the timed deadline check as the loop `deadlines` (a failure logged, counted, unhealthy until a check succeeds). */
  readonly lifecycle?: Pick<Lifecycle, 'runLoop'>;
  /**
   * Following the log, at most one commit per this many ms (default 20): entries that come
   * meanwhile are gathered into the next one. A commit's cost is mostly per commit (the pages
   * of every table and index it touched), so under load fewer, larger ones cost less; the API
   * shows an entry at most this much later.
   */
  readonly gatherMs?: number;
}

export interface ReadSide {
  readonly store: ProjectionStore;
  /** `transactions`: the projections' commits (a batch of facts each). */
  readonly stats: { applied: number; transactions: number; overdue: number; escalated: number; webhooksSent: number; webhooksFailed: number; rebuilt: number };
  /** Resolves when the projections reached at least `position`. */
  caughtUp(position: number, timeoutMs?: number): Promise<void>;
  /** Deadline check now (also runs on a timer). */
  checkDeadlines(): Promise<number>;
  /** Delivery held back by the hub (recipient certificate), as the scheduler reports it. */
  heldBack(caseId: string, role: string, reason: string | undefined): void;
  heldBackReason(caseId: string, role: string): string | undefined;
  stop(): Promise<void>;
}

/** The hub secret for the IdNr index (HMAC-SHA-256 key), created once, 0600. */
export function idnrIndexKey(dir: string): Buffer {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'idnr-index.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

const batchSize = 2000;

/**
 * Whether `next` is still pending after `ms` (0: after the entries that are ready now, one
 * turn of the event loop; nothing waited for when `ms` is below 0).
 */
async function nothingWithin(next: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms < 0) return true;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  const elapsed = new Promise<true>((resolve) => {
    timer = ms === 0 ? setImmediate(resolve, true) : setTimeout(resolve, ms, true);
  });
  try {
    return await Promise.race([next.then(() => false), elapsed]);
  } finally {
    if (ms === 0) clearImmediate(timer as NodeJS.Immediate);
    else clearTimeout(timer as NodeJS.Timeout);
  }
}

export async function startReadSide(options: ReadSideOptions): Promise<ReadSide> {
  const { log } = options;
  const now = options.now ?? (() => new Date());
  const say = options.say ?? (() => undefined);
  const store = openProjectionStore(path.join(options.dir, 'readside.sqlite'), idnrIndexKey(options.dir), options.trackingKey);
  const stats = { applied: 0, transactions: 0, overdue: 0, escalated: 0, webhooksSent: 0, webhooksFailed: 0, rebuilt: 0 };
  const waiters = new Set<{ position: number; resolve: () => void }>();
  const notify = () => {
    for (const w of waiters) {
      if (store.position < w.position) continue;
      waiters.delete(w);
      w.resolve();
    }
  };

  // Projected again from the log, and said so: on a long log that takes a while, in the background.
  if (store.droppedAtOpen !== undefined) {
    stats.rebuilt++;
    say('readside.rebuild', { reason: store.droppedAtOpen });
  }
  // A projection ahead of the log belongs to another log: rebuild.
  if (store.position > (await log.size())) {
    store.reset();
    stats.rebuilt++;
    say('readside.rebuild', { reason: 'projection ahead of the log' });
  }
  // Catch up in batches (one transaction each), then follow live.
  for (;;) {
    const facts: ReadFact[] = [];
    let next = store.position;
    for await (const e of log.readAll({ fromPosition: store.position, maxCount: batchSize })) {
      const f = readFact(e);
      if (f) facts.push(f);
      next = e.position + 1;
    }
    if (next === store.position) break;
    store.apply(facts, next);
    stats.applied += facts.length;
    stats.transactions++;
  }
  let stopping = false;
  const gatherMs = options.gatherMs ?? 20;
  let lastCommitAt = 0;
  /** Whether `next` is not there at once, nor by gatherMs after the last commit. */
  const nothingYetSinceCommit = async (next: Promise<unknown>) =>
    (await nothingWithin(next, 0)) && (await nothingWithin(next, lastCommitAt + gatherMs - performance.now()));
  let subscription: Subscription = log.subscribe(store.position);
  /** Ends the wait while the disk is full (on stop). */
  let wake: (() => void) | undefined;
  const following = (async () => {
    // A full disk stops the projections' writes, not the read side: they follow again from
    // where they are once space is back (the hub reports the episode; the API answers meanwhile).
    // Any other failure is reported (logged, counted, unhealthy) and the projections follow
    // again after the back-off: they never stop for good.
    let full = false;
    for (let attempt = 1; ; attempt++) {
      // What the subscription has ready is applied in one transaction: gathered until the next
      // entry is not there at once (or a batch is full), then applied with its position.
      const gathered: ReadFact[] = [];
      let gatheredTo = -1;
      const applyGathered = () => {
        if (gatheredTo < 0) return;
        options.component?.checkFault();
        lastCommitAt = performance.now();
        store.apply(gathered, gatheredTo);
        stats.applied += gathered.length;
        stats.transactions++;
        gathered.length = 0;
        gatheredTo = -1;
        attempt = 1;
        options.component?.succeeded();
        if (full) {
          full = false;
          say('readside.storage-recovered', { position: store.position });
        }
        notify();
      };
      try {
        const entries = subscription[Symbol.asyncIterator]();
        for (;;) {
          const next = entries.next();
          // Applied when a batch is full, or when the next entry is not there at once and the
          // last commit is gatherMs ago (until then, what comes is gathered).
          if (gatheredTo >= 0) {
            const batchFull = gathered.length >= batchSize;
            if (batchFull || (await nothingYetSinceCommit(next))) applyGathered();
          }
          const step = await next;
          if (step.done) break;
          const e = step.value;
          if (e.position < Math.max(store.position, gatheredTo)) continue;
          const f = readFact(e);
          if (f) gathered.push(f);
          gatheredTo = e.position + 1;
        }
        applyGathered();
        return;
      } catch (error) {
        if (stopping) return;
        if (isStorageFull(error, path.join(options.dir, 'readside.sqlite'))) {
          if (!full) say('readside.storage-full', { error: (error as Error).message, position: store.position });
          full = true;
        } else if (options.component) options.component.failed(error, { position: store.position });
        else say('readside.failed', { error: (error as Error).message });
        const waitMs = backoffMs(attempt, { baseMs: 250, maxMs: 5000 });
        await subscription.close();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (stopping) return;
        subscription = log.subscribe(store.position);
      }
    }
  })();

  const limitsFor = (recipient: string) => options.escalation.recipients?.[recipient] ?? options.escalation;
  const doFetch = options.fetch ?? fetch;
  async function tell(responsible: string, body: Record<string, unknown>): Promise<void> {
    const url = options.escalation.webhooks?.[responsible];
    if (!url) return;
    try {
      const res = await doFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      stats.webhooksSent++;
    } catch (error) {
      stats.webhooksFailed++;
      say('readside.webhook-failed', { responsible, type: body['type'], error: (error as Error).message });
    }
  }

  async function record(h: HandOffRow, step: 'overdue' | 'escalated', dueAt: string, late: 'acknowledge' | 'decide' = 'acknowledge'): Promise<boolean> {
    const type = step === 'overdue' ? 'HandOffOverdue' : 'HandOffEscalated';
    const messageId = late === 'acknowledge' ? hubDerivedUuid(step, h.deliveryId) : hubDerivedUuid(`decision-${step}`, h.deliveryId);
    const event: HandOffOverdue | HandOffEscalated = {
      messageId,
      type,
      schemaVersion: 1,
      occurredAt: now().toISOString(),
      producer: hubProducer as unknown as HandOffOverdue['producer'],
      legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
      purpose: `A hand-off missed its ${step === 'overdue' ? '' : 'escalation '}deadline${late === 'decide' ? ' for the decision after the receipt' : ''}`,
      correlationId: h.deliveryId,
      causationId: h.deliveryId,
      data: { deliveryId: h.deliveryId, recipient: h.recipient as HandOffOverdue['data']['recipient'], step: late, dueAt, responsible: h.recipient as HandOffOverdue['data']['responsible'] },
    } as HandOffOverdue | HandOffEscalated;
    if (await log.getByEventId(messageId)) return false;
    try {
      await log.append(deliveryStream(h.deliveryId), [toRecord(event)]);
    } catch (error) {
      if (error instanceof DuplicateEventIdError) return false;
      throw error;
    }
    stats[step]++;
    say(`handoff.${step}`, { deliveryId: h.deliveryId, recipient: h.recipient, dueAt, step: late });
    void tell(h.recipient, { type, deliveryId: h.deliveryId, recipient: h.recipient, step: late, dueAt, logEntry: messageId });
    return true;
  }

  /** Acknowledged hand-offs whose agency has not decided in time (per agency kind). */
  async function checkDecisions(at: Date): Promise<number> {
    const limits = options.escalation.decision;
    if (!limits) return 0;
    let recorded = 0;
    const earliest = Math.min(limits.elterngeldstelle.decideWithinMs, limits.familienkasse.decideWithinMs);
    for (const h of store.undecidedHandOffs(new Date(at.getTime() - earliest).toISOString(), 5000)) {
      const due = decisionDeadlinePassed(h, limits[h.role], at);
      if (!due) continue;
      if (due.step === 'escalated' && h.decisionOverdueAt === null) {
        const overdueDue = new Date(Date.parse(h.answeredAt!) + limits[h.role].decideWithinMs).toISOString();
        if (await record(h, 'overdue', overdueDue, 'decide')) recorded++;
      }
      if (await record(h, due.step, due.dueAt, 'decide')) recorded++;
    }
    return recorded;
  }

  let checking: Promise<number> | undefined;
  const checkDeadlines = (): Promise<number> => {
    checking ??= (async () => {
      const at = now();
      const minimum = Math.min(options.escalation.acknowledgeWithinMs, ...Object.values(options.escalation.recipients ?? {}).map((r) => r.acknowledgeWithinMs));
      let recorded = 0;
      for (const h of store.openHandOffs(new Date(at.getTime() - minimum).toISOString(), 5000)) {
        const due = deadlinePassed(h, limitsFor(h.recipient), at);
        if (!due) continue;
        // An escalation implies the overdue step: record both, in order.
        if (due.step === 'escalated' && h.overdueAt === null) {
          const overdueDue = new Date(Date.parse(h.scheduledAt) + limitsFor(h.recipient).acknowledgeWithinMs).toISOString();
          if (await record(h, 'overdue', overdueDue)) recorded++;
        }
        if (await record(h, due.step, due.dueAt)) recorded++;
      }
      recorded += await checkDecisions(at);
      return recorded;
    })().finally(() => (checking = undefined));
    return checking;
  };
  const every = options.escalation.checkEveryMs ?? Math.max(200, Math.min(30_000, Math.floor(options.escalation.acknowledgeWithinMs / 4)));
  const deadlineLoop = options.lifecycle?.runLoop('deadlines', async () => void (await checkDeadlines()), { everyMs: every });
  const timer = deadlineLoop
    ? undefined
    : setInterval(() => {
        checkDeadlines().catch((error: unknown) => say('readside.deadline-check-failed', { error: (error as Error).message }));
      }, every);
  timer?.unref();

  return {
    store,
    stats,
    caughtUp(position, timeoutMs = 30_000) {
      if (store.position >= position) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { position, resolve };
        waiters.add(w);
        setTimeout(() => (waiters.delete(w) ? reject(new Error(`read side did not reach position ${position}`)) : undefined), timeoutMs).unref();
      });
    },
    checkDeadlines,
    heldBack: (caseId, role, reason) => {
      // The scheduler may still report while the hub stops: the store is closed then.
      if (!stopping) store.holdBack(caseId, role, reason);
    },
    heldBackReason: (caseId, role) => store.heldBackReason(caseId, role),
    async stop() {
      stopping = true;
      wake?.();
      clearInterval(timer);
      await deadlineLoop?.stop();
      await checking?.catch(() => undefined);
      await subscription.close();
      await following;
      store.close();
    },
  };
}
