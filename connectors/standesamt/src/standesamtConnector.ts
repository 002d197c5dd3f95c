// A submitting office's connector (Standesamt, Meldebehörde): signs each contract event,
// keeps it in the durable outbox and submits it to the hub over NATS request/reply. While
// the hub is unreachable the submissions wait and are sent again, in order per birth case,
// on reconnect and periodically, and the connector says that it is waiting. Only the hub's
// answer moves an entry out of `pending`: `accepted` or `refused` with the hub's code.
// Dates in the future are refused here already, with the code the hub would answer.
import type { NatsConnection } from '@nats-io/transport-node';
import {
  defaultClockSkewMs,
  futureDateOf,
  hubIngressIdentity,
  verifyReply,
  type Verifier,
  inboxPrefixOf,
  SubmissionReplySchema,
  submitSubjectOf,
  fail,
  ok,
  type Result,
  type Signer,
  type Submission,
  type SubmissionReply,
} from '../../../contracts/index.ts';
import { Outbox, type OutboxInput, type OutboxRecord } from './outbox.ts';
import type { Component, LifecycleLog } from '../../kit/lifecycle.ts';

/** What the connector reports: JSON-line events without personal data (ids, counts, codes). */
export type ConnectorLog = (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>, message: string) => void;

/** A connector's log as the lifecycle's: failures (error) and recoveries (warn) under their own event names. */
export const lifecycleLogOf = (log: ConnectorLog | undefined): LifecycleLog => ({
  error: (fields, message) => log?.('error', String(fields['event']), fields, message),
  warn: (fields, message) => log?.('warn', String(fields['event']), fields, message),
});

export interface StandesamtConnectorOptions {
  readonly nc: NatsConnection;
  readonly signer: Signer;
  readonly outboxFile: string;
  readonly timeoutMs?: number;
  /** Birth cases sent at the same time (each case stays in order). */
  readonly concurrency?: number;
  readonly retryMs?: number;
  /** Tolerance for this machine's clock against the hub's (default 5 minutes). */
  readonly clockSkewMs?: number;
  /** Answered entries are deleted this long after the answer (default 24 h). */
  readonly retentionMs?: number;
  /** Told about every final answer (accepted or refused). */
  readonly onReply?: (messageId: string, reply: SubmissionReply) => void;
  /**
   * Checks the hub's signature on its answers (the exchange's certificates); an answer that is
   * not signed by the hub's ingress identity, or is about another message, changes nothing.
   */
  readonly hubVerifier?: Verifier;
  /** The address that signs the hub's answers (default the hub's ingress identity). */
  readonly hubReplyDvdv?: string;
  readonly log?: ConnectorLog;
  /** Where sending reports that the hub does not answer (logged, counted, unhealthy until it answers again). */
  readonly component?: Component;
}

/** A submission refused before it was sent: the same shape as the hub's refusal. */
export interface LocalRefusal {
  readonly code: 'date-in-future';
  readonly message: string;
  readonly path: string;
}

const caseKeyOf = (s: Submission) => {
  const k = s.data.registerKey;
  return `${k.standesamtsnummer}/${k.registerart}/${k.jahr}/${k.eintragsnummer}`;
};

/**
 * Checks a contract event against the clock, signs it and stores it in the outbox (durably),
 * without sending: what is in the outbox is sent by whoever connects next.
 */
export function enqueueSigned(outbox: Outbox, signer: Signer, event: Submission, clockSkewMs = defaultClockSkewMs, now = new Date()): Result<Submission, LocalRefusal> {
  const signed = signedEntry(signer, event, clockSkewMs, now);
  if (!signed.success) return signed;
  outbox.addAll([signed.data]);
  return ok(event);
}

/** A contract event checked against the clock and signed, as the outbox stores it. */
function signedEntry(signer: Signer, event: Submission, clockSkewMs: number, now: Date): Result<OutboxInput, LocalRefusal> {
  const future = futureDateOf(event, now, clockSkewMs);
  if (future) return fail(future);
  return ok({ messageId: event.messageId, caseKey: caseKeyOf(event), body: JSON.stringify({ payload: event, signature: signer.sign(event) }), type: event.type });
}

/** How often the waiting state is reported again while the hub stays unreachable. */
const waitingReportMs = 30_000;

export class StandesamtConnector {
  readonly #options: StandesamtConnectorOptions;
  readonly #outbox: Outbox;
  #flushing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  readonly #timer: NodeJS.Timeout;
  #waitingSince: number | undefined;
  #waitingReported = 0;
  /** Submissions whose last send failed (each failure said once, until it is answered). */
  readonly #failing = new Set<string>();

  constructor(options: StandesamtConnectorOptions) {
    this.#options = options;
    this.#outbox = new Outbox(options.outboxFile);
    this.#prune();
    this.#timer = setInterval(() => {
      this.#prune();
      this.#kick();
    }, options.retryMs ?? 2000);
    this.#timer.unref();
    void (async () => {
      for await (const status of options.nc.status()) {
        if (status.type === 'reconnect') this.#kick();
      }
    })().catch((error: unknown) => this.#log('error', 'nats.status-failed', { reason: (error as Error).message }, 'watching the NATS connection failed'));
  }

  #log(level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>, message: string): void {
    this.#options.log?.(level, event, fields, message);
  }

  #prune(): void {
    const removed = this.#outbox.prune(this.#options.retentionMs ?? 24 * 3_600_000);
    if (removed > 0) this.#log('info', 'outbox.pruned', { removed }, `${removed} answered submissions removed from the outbox`);
  }

  /** Checks a contract event against the clock, signs it and stores it in the outbox (durably), without sending. */
  enqueue(event: Submission): Result<Submission, LocalRefusal> {
    return this.enqueueAll([event])[0]!;
  }

  /** As `enqueue`, for several events stored in one commit (one fsync); a refused one does not hold up the others. */
  enqueueAll(events: readonly Submission[]): Result<Submission, LocalRefusal>[] {
    const now = new Date();
    const signed = events.map((event) => signedEntry(this.#options.signer, event, this.#options.clockSkewMs ?? defaultClockSkewMs, now));
    this.#outbox.addAll(signed.flatMap((r) => (r.success ? [r.data] : [])));
    return signed.map((r, i) => (r.success ? ok(events[i]!) : r));
  }

  /** Submissions signed and waiting for the commit they share with the others made in the same turn. */
  #group: { readonly entries: OutboxInput[]; readonly stored: Promise<void> } | undefined;

  /** Stores `entry` durably, in one commit with the other submissions of this turn of the event loop. */
  #store(entry: OutboxInput): Promise<void> {
    if (!this.#group) {
      const entries: OutboxInput[] = [];
      const stored = new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          this.#group = undefined;
          try {
            this.#outbox.addAll(entries);
            resolve();
          } catch (error) {
            reject(error as Error);
          }
        }),
      );
      this.#group = { entries, stored };
    }
    this.#group.entries.push(entry);
    return this.#group.stored;
  }

  /**
   * Signs and stores the event (durably; the submissions of one turn of the event loop share a
   * commit), sends what is pending and returns the entry as the outbox holds it now (pending
   * when the hub did not answer).
   */
  async submit(event: Submission): Promise<Result<OutboxRecord, LocalRefusal>> {
    if (this.#closed) throw new Error('the connector is closed');
    const signed = signedEntry(this.#options.signer, event, this.#options.clockSkewMs ?? defaultClockSkewMs, new Date());
    if (!signed.success) return signed;
    await this.#store(signed.data);
    await this.flush();
    return ok(this.#outbox.status(event.messageId)!);
  }

  /** Commits of the outbox that were fsync'd (its submissions' and refusals'), since this connector opened it. */
  get durableCommits(): number {
    return this.#outbox.durableCommits;
  }

  /** Who this connector signs as. */
  get identity() {
    return this.#options.signer.identity;
  }

  status(messageId: string): OutboxRecord | undefined {
    return this.#outbox.status(messageId);
  }

  list(registerKey?: string): OutboxRecord[] {
    return this.#outbox.list(registerKey);
  }

  counts() {
    return this.#outbox.counts();
  }

  /** Retries in the background: starts a round unless one is running (never prolongs a caller's wait). */
  #kick(): void {
    if (!this.#flushing) void this.flush();
  }

  /**
   * Sends what is pending; resolves when a round that started after this call is over (some
   * entries may still be pending when the hub did not answer).
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      do {
        this.#again = false;
        await this.#round();
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #round(): Promise<void> {
    const byCase = new Map<string, { messageId: string; body: string }[]>();
    for (const e of this.#outbox.pending()) {
      const list = byCase.get(e.caseKey) ?? [];
      list.push({ messageId: e.messageId, body: e.body });
      byCase.set(e.caseKey, list);
    }
    if (byCase.size === 0) return;
    let waiting = 0;
    let lastReason = '';
    const queue = [...byCase.values()];
    const worker = async () => {
      for (let list = queue.shift(); list; list = queue.shift()) {
        for (const [i, entry] of list.entries()) {
          const outcome = await this.#send(entry.messageId, entry.body);
          if (outcome !== true) {
            // Keep the case's order: what follows waits too.
            waiting += list.length - i;
            lastReason = outcome;
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 16 }, worker));
    this.#reportWaiting(waiting, lastReason);
  }

  #reportWaiting(waiting: number, reason: string): void {
    const now = Date.now();
    if (waiting === 0) {
      if (this.#waitingSince !== undefined) this.#log('info', 'hub.answering', { waitedMs: now - this.#waitingSince }, 'the hub answers again');
      this.#waitingSince = undefined;
      this.#options.component?.succeeded();
      return;
    }
    this.#waitingSince ??= now;
    if (now - this.#waitingReported < waitingReportMs) return;
    this.#waitingReported = now;
    this.#options.component?.failed(new Error(`${waiting} submissions wait for the hub's answer (${reason})`), { pending: waiting });
    this.#log('warn', 'hub.waiting', { pending: waiting, reason, waitingMs: now - this.#waitingSince }, `${waiting} submissions wait for the hub's answer (${reason}); sent again every ${this.#options.retryMs ?? 2000} ms`);
  }

  /** True when the hub gave a final answer; otherwise why the entry stays pending. */
  async #send(messageId: string, body: string): Promise<true | string> {
    let reply: SubmissionReply;
    try {
      // Submitted on this office's own subject; the hub answers only on this office's own inbox.
      const replySubject = `${inboxPrefixOf(this.#options.signer.identity.dvdv)}.${crypto.randomUUID().replace(/-/g, '')}`;
      const answer = await this.#options.nc.request(submitSubjectOf(this.#options.signer.identity.dvdv), body, { timeout: this.#options.timeoutMs ?? 5000, noMux: true, reply: replySubject });
      reply = SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(answer.data)));
    } catch (error) {
      // No responders, timeout, garbled answer: stays pending, and is said once (the waiting report follows it).
      const reason = (error as Error).message.slice(0, 200) || 'no answer';
      if (!this.#failing.has(messageId)) {
        this.#failing.add(messageId);
        this.#log('warn', 'submission.send-failed', { messageId, reason }, `the hub did not answer the submission (${reason}); it stays in the outbox and is sent again`);
      }
      return reason;
    }
    this.#failing.delete(messageId);
    if (this.#options.hubVerifier) {
      // Only the hub's own signed word moves an entry: anything else could fake "registered".
      const genuine = verifyReply(reply, this.#options.hubVerifier, { dvdv: this.#options.hubReplyDvdv ?? hubIngressIdentity.dvdv, messageId });
      if (!genuine.success) {
        this.#log('warn', 'submission.reply-unverified', { messageId, code: genuine.error.code }, `an answer not signed by the hub was ignored (${genuine.error.code})`);
        return `an answer not signed by the hub (${genuine.error.code})`;
      }
    }
    if (reply.ok) {
      this.#outbox.markAccepted(messageId, { position: reply.position, duplicate: reply.duplicate, ...(reply.routing ? { routing: reply.routing } : {}), ...(reply.trackingCode ? { trackingCode: reply.trackingCode } : {}) });
      this.#log('info', 'submission.accepted', { messageId, position: reply.position, duplicate: reply.duplicate }, 'the hub registered the submission');
    } else if (reply.error.code === 'unavailable') {
      return `hub unavailable: ${reply.error.message.slice(0, 200)}`;
    } else {
      this.#outbox.markRefused(messageId, reply.error.code, reply.error.message);
      this.#log('warn', 'submission.refused', { messageId, code: reply.error.code }, `the hub refused the submission (${reply.error.code})`);
    }
    this.#options.onReply?.(messageId, reply);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    // Submissions signed in this turn are stored before the outbox closes.
    await this.#group?.stored.catch(() => undefined);
    await this.#flushing;
    this.#outbox.close();
  }
}
