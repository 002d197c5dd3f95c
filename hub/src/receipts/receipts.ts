// Receipts: agencies publish signed receipts carrying the hash of exactly what they received.
// The hub verifies each as of when JetStream stored it (signature, certificate validity and
// revocation at receipt time, not after a backlog), checks signer = the delivery's recipient
// and hash = what was delivered (the JWE's hash, or a clear payload's hash), and appends one
// final answer per delivery: `DeliveryAcknowledged` or `DeliveryRejected`, whichever came
// first. A redelivered receipt with the same answer changes nothing; a later contradicting one
// is a security event.
// Deliveries that exceed the redelivery limit become `DeliveryDeadLettered`, from JetStream's
// advisories. An erasure receipt (a recipient confirms it removed an erased case's
// deliveries) is accepted only from the notice's recipient and logged once as
// `ErasureConfirmed`, with the signed receipt kept beside it.
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  hubDerivedUuid,
  receiptStream,
  receivedHashOf,
  deliveryStream as deliveryJsStream,
  SignedErasureReceiptSchema,
  SignedMilestoneSchema,
  SignedReceiptSchema,
  milestoneAnswerSubject,
  type DeliveryAcknowledged,
  type Milestone,
  type MilestoneAnswer,
  type Signer,
  type HandOffMilestone,
  type ErasureConfirmed,
  type DeliveryDeadLettered,
  type DeliveryRejected,
  type Verifier,
} from '../../../contracts/index.ts';
import { DuplicateEventIdError, type EventStore, type JsonValue } from '../log/eventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { SignatureKeeper } from '../log/signatures.ts';
import { deliveryStream, erasureStream } from '../log/streams.ts';
import { KeyedLanes } from '../infra/keyedLanes.ts';
import { claimedSubject, senderOf, startSecurityRecorder, verifiedSubject, type SecurityEventLimits, type SecuritySubject } from '../ingress/securityEvents.ts';
import { createLifecycle, type Component, type Lifecycle } from '../../../connectors/kit/lifecycle.ts';

/** No current CRL: the receipt is neither taken nor refused, it comes again. */
class RevocationUnknown extends Error {
  override readonly name = 'RevocationUnknown';
}
const revocationUnknownRetryMs = 10_000;

export interface ReceiptOptions {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  readonly verifier: Verifier;
  /** Rate limit of security events per sender. */
  readonly securityEvents?: SecurityEventLimits;
  readonly now?: () => Date;
  /** Receipts handled at once (default 64). */
  readonly concurrency?: number;
  /**
   * Signs the answers to milestones (logged or refused), published on the agency's own inbox
   * so its connector can settle the report; without it milestones are not answered.
   */
  readonly answerSigner?: Signer;
  /** Where the processor reports a receipt or dead letter it could not record (logged, counted, unhealthy until one is recorded again). */
  readonly component?: Component;
  /**
   * Where the receipt loop runs (as `component`'s name, default `receipts`): a failing consumer
   * (deleted, a pull that cannot be renewed) is reported and the loop consumes again, the
   * consumer created again, after the back-off.
   */
  readonly lifecycle?: Lifecycle;
}

export interface ReceiptProcessor {
  readonly stats: {
    acknowledged: number;
    rejected: number;
    deadLettered: number;
    refused: number;
    /** Receipts that repeat the final answer already logged. */
    repeated: number;
    /** Receipts that contradict the final answer already logged (security events). */
    contradicted: number;
    securityEvents: number;
    securityEventsSuppressed: number;
    /** Erasure notices confirmed by their recipients. */
    erasuresConfirmed: number;
    /** Milestones of hand-offs logged (in Bearbeitung, bewilligt, abgelehnt, ausgezahlt). */
    milestones: number;
  };
  stop(): Promise<void>;
}

type FinalAnswer = DeliveryAcknowledged | DeliveryRejected;

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

/** Whether two final answers say the same (a redelivered receipt), ignoring when they were logged. */
const sameAnswer = (a: FinalAnswer, b: FinalAnswer): boolean =>
  a.type === b.type && a.data.receivedHash === b.data.receivedHash && (a.type !== 'DeliveryRejected' || b.type !== 'DeliveryRejected' || a.data.reasonCode === b.data.reasonCode);

export async function startReceiptProcessor(options: ReceiptOptions): Promise<ReceiptProcessor> {
  const { nc, js, jsm, log, verifier } = options;
  const now = options.now ?? (() => new Date());
  const concurrency = Math.max(1, options.concurrency ?? 64);
  const stats = { acknowledged: 0, rejected: 0, deadLettered: 0, refused: 0, repeated: 0, contradicted: 0, securityEvents: 0, securityEventsSuppressed: 0, erasuresConfirmed: 0, milestones: 0 };
  const security = startSecurityRecorder(log, now, stats, options.securityEvents);
  const signatures = new SignatureKeeper(log, now);
  const refuse = async (code: string, reason: string, sender: string | undefined, subject: SecuritySubject) => {
    stats.refused++;
    await security.record(sender, { code, reason: reason.slice(0, 500), subject, messageType: 'Receipt' });
  };

  /** The final answer already logged for a delivery, if any. */
  async function finalAnswerOf(deliveryId: string): Promise<FinalAnswer | undefined> {
    for await (const stored of log.readStream(deliveryStream(deliveryId))) {
      const event = fromRecord(stored);
      if (event?.type === 'DeliveryAcknowledged' || event?.type === 'DeliveryRejected') return event;
    }
    return undefined;
  }

  const parseJson = (data: Uint8Array): unknown => {
    try {
      return JSON.parse(decoder.decode(data));
    } catch {
      return undefined;
    }
  };

  /** An erasure receipt: only the notice's recipient confirms it, once. */
  async function handleErasure(json: unknown, receivedAt: Date): Promise<void> {
    const parsed = SignedErasureReceiptSchema.safeParse(json);
    if (!parsed.success) return refuse('malformed', `erasure receipt does not match the contract: ${parsed.error.issues[0]?.message ?? ''}`, undefined, {});
    const receipt = parsed.data.payload;
    const signer = verifier.verify(receipt, parsed.data.signature, receivedAt);
    if (!signer.success && signer.error.code === 'revocation-unknown') throw new RevocationUnknown(signer.error.message);
    if (!signer.success) return refuse(signer.error.code, signer.error.message, undefined, claimedSubject(parsed.data.signature));
    const sender = senderOf(signer.data);
    const who = verifiedSubject(signer.data, parsed.data.signature);
    if (signer.data.dvdv !== receipt.recipient || (signer.data.role !== 'elterngeldstelle' && signer.data.role !== 'familienkasse')) {
      return refuse('producer-mismatch', `erasure receipt of notice ${receipt.noticeId} for ${receipt.recipient} signed by ${signer.data.dvdv}`, sender, who);
    }
    const stored = await log.getByEventId(receipt.noticeId);
    const notice = stored && fromRecord(stored);
    if (!notice || notice.type !== 'ErasureNoticeScheduled') return refuse('unknown-notice', `no erasure notice ${receipt.noticeId}`, sender, who);
    if (notice.data.recipient.dvdv !== receipt.recipient) return refuse('wrong-recipient', `erasure notice ${receipt.noticeId} was not for ${receipt.recipient}`, sender, who);
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
    if (!same(receipt.deliveryIds, notice.data.deliveryIds)) return refuse('erasure-mismatch', `the erasure receipt for ${receipt.noticeId} names other deliveries than the notice`, sender, who);
    const messageId = hubDerivedUuid('erasure-confirmed', receipt.noticeId);
    if (await log.getByEventId(messageId)) {
      stats.repeated++;
      return;
    }
    const confirmed: ErasureConfirmed = {
      ...envelope(messageId, now(), notice.correlationId),
      legalBasis: 'Art. 19 DSGVO; Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
      purpose: 'Record that a recipient removed the deliveries of an erased birth case',
      causationId: notice.messageId,
      type: 'ErasureConfirmed',
      data: { noticeId: receipt.noticeId, recipient: receipt.recipient, deliveryIds: receipt.deliveryIds, erasedAt: receipt.erasedAt },
    };
    try {
      const signed = { payload: (json as { payload: JsonValue }).payload, signature: { ...(await signatures.keep(parsed.data.signature)) } };
      await log.append(erasureStream(notice.data.caseId), [toRecord(confirmed, { signerKeyId: signer.data.keyId, hubReceivedAt: receivedAt.toISOString(), signed })]);
    } catch (error) {
      // Logged meanwhile (a redelivered receipt, a second hub process): the first stands.
      if (!(error instanceof DuplicateEventIdError)) throw error;
      stats.repeated++;
      return;
    }
    stats.erasuresConfirmed++;
  }

  /** Tells the agency what became of its milestone (core NATS: a lost answer is sent again when the milestone comes again). */
  const answerMilestone = (milestone: Milestone, answer: Pick<MilestoneAnswer, 'outcome' | 'duplicate' | 'code' | 'message'>) => {
    if (!options.answerSigner) return;
    const payload: MilestoneAnswer = {
      type: 'milestone-answer',
      milestoneId: milestone.milestoneId,
      deliveryId: milestone.deliveryId,
      recipient: milestone.recipient,
      ...Object.fromEntries(Object.entries(answer).filter(([, v]) => v !== undefined)),
      answeredAt: now().toISOString(),
    } as MilestoneAnswer;
    try {
      nc.publish(milestoneAnswerSubject(milestone.recipient), JSON.stringify({ payload, signature: options.answerSigner.sign(payload) }));
    } catch {
      // An address that makes no subject, a closed connection: the milestone is logged or refused all the same.
    }
  };

  /**
   * A milestone: only the recipient of that delivery reports what became of it; anything else
   * is refused and recorded as a security event (nothing else is logged). Logged once per
   * milestone id, with the signed milestone kept beside it, in the delivery's stream.
   */
  async function handleMilestone(json: unknown, receivedAt: Date): Promise<void> {
    const parsed = SignedMilestoneSchema.safeParse(json);
    if (!parsed.success) return refuse('malformed', `milestone does not match the contract: ${parsed.error.issues[0]?.message ?? ''}`, undefined, {});
    const milestone = parsed.data.payload;
    const signer = verifier.verify(milestone, parsed.data.signature, receivedAt);
    if (!signer.success && signer.error.code === 'revocation-unknown') throw new RevocationUnknown(signer.error.message);
    if (!signer.success) return refuse(signer.error.code, signer.error.message, undefined, claimedSubject(parsed.data.signature));
    const sender = senderOf(signer.data);
    const who = verifiedSubject(signer.data, parsed.data.signature);
    const refuseMilestone = async (code: string, reason: string) => {
      stats.refused++;
      await security.record(sender, { code, reason: reason.slice(0, 500), subject: who, messageType: 'Milestone' });
      // Answered to the signer only: its own inbox, never the inbox a forged payload names.
      answerMilestone({ ...milestone, recipient: signer.data.dvdv as Milestone['recipient'] }, { outcome: 'refused', code, message: reason.slice(0, 500) });
    };
    if (signer.data.dvdv !== milestone.recipient || (signer.data.role !== 'elterngeldstelle' && signer.data.role !== 'familienkasse')) {
      return refuseMilestone('producer-mismatch', `milestone for ${milestone.recipient} signed by ${signer.data.dvdv}`);
    }
    const stored = await log.getByEventId(milestone.deliveryId);
    const scheduled = stored && fromRecord(stored);
    if (!scheduled || scheduled.type !== 'DeliveryScheduled') return refuseMilestone('unknown-delivery', `no delivery ${milestone.deliveryId}`);
    if (scheduled.data.recipient.dvdv !== signer.data.dvdv) return refuseMilestone('not-recipient', `delivery ${milestone.deliveryId} was not for ${signer.data.dvdv}: only its recipient reports its milestones`);
    const messageId = hubDerivedUuid('milestone', milestone.deliveryId, milestone.milestoneId);
    if (await log.getByEventId(messageId)) {
      stats.repeated++;
      answerMilestone(milestone, { outcome: 'logged', duplicate: true });
      return;
    }
    const event: HandOffMilestone = {
      ...envelope(messageId, now(), scheduled.correlationId),
      purpose: 'Record of what became of a hand-off, as its recipient reported it',
      causationId: milestone.deliveryId,
      type: 'HandOffMilestone',
      data: { deliveryId: milestone.deliveryId, recipient: milestone.recipient, milestoneId: milestone.milestoneId, status: milestone.status, ...(milestone.code ? { code: milestone.code } : {}), reportedAt: milestone.reportedAt },
    };
    try {
      const signed = { payload: (json as { payload: JsonValue }).payload, signature: { ...(await signatures.keep(parsed.data.signature)) } };
      await log.append(deliveryStream(milestone.deliveryId), [toRecord(event, { signerKeyId: signer.data.keyId, hubReceivedAt: receivedAt.toISOString(), signed })]);
    } catch (error) {
      if (!(error instanceof DuplicateEventIdError)) throw error;
      stats.repeated++;
      answerMilestone(milestone, { outcome: 'logged', duplicate: true });
      return;
    }
    stats.milestones++;
    answerMilestone(milestone, { outcome: 'logged', duplicate: false });
  }

  async function handle(json: unknown, receivedAt: Date): Promise<void> {
    if (json === undefined) return refuse('malformed', 'receipt is not JSON', undefined, {});
    if ((json as { payload?: { type?: unknown } } | null)?.payload?.type === 'erasure-receipt') return handleErasure(json, receivedAt);
    if ((json as { payload?: { type?: unknown } } | null)?.payload?.type === 'milestone') return handleMilestone(json, receivedAt);
    const parsed = SignedReceiptSchema.safeParse(json);
    if (!parsed.success) return refuse('malformed', `receipt does not match the contract: ${parsed.error.issues[0]?.message ?? ''}`, undefined, {});
    const receipt = parsed.data.payload;
    // Judged as of when the hub received it: a backlog must not turn a valid receipt invalid.
    const signer = verifier.verify(receipt, parsed.data.signature, receivedAt);
    if (!signer.success && signer.error.code === 'revocation-unknown') throw new RevocationUnknown(signer.error.message);
    if (!signer.success) return refuse(signer.error.code, signer.error.message, undefined, claimedSubject(parsed.data.signature));
    const sender = senderOf(signer.data);
    const who = verifiedSubject(signer.data, parsed.data.signature);
    if (signer.data.dvdv !== receipt.recipient || (signer.data.role !== 'elterngeldstelle' && signer.data.role !== 'familienkasse')) {
      return refuse('producer-mismatch', `receipt for ${receipt.recipient} signed by ${signer.data.dvdv}`, sender, who);
    }
    const stored = await log.getByEventId(receipt.deliveryId);
    const scheduled = stored && fromRecord(stored);
    if (!scheduled || scheduled.type !== 'DeliveryScheduled') return refuse('unknown-delivery', `no delivery ${receipt.deliveryId}`, sender, who);
    if (scheduled.data.recipient.dvdv !== receipt.recipient) return refuse('wrong-recipient', `delivery ${receipt.deliveryId} was not for ${receipt.recipient}`, sender, who);
    const base = { deliveryId: receipt.deliveryId, recipient: receipt.recipient, receivedHash: receipt.receivedHash, receivedAt: receipt.receivedAt };
    const correlationId = scheduled.correlationId;
    // One final answer per delivery, whatever it is: one id for both.
    const messageId = hubDerivedUuid('receipt', receipt.deliveryId);
    let answer: FinalAnswer;
    // What the agency must have received: the JWE's hash for an encrypted payload (the
    // plaintext's hash stays in the sealed log), the payload hash for a clear one.
    if (receipt.status === 'acknowledged' && receipt.receivedHash === receivedHashOf(scheduled.data)) {
      answer = { ...envelope(messageId, now(), correlationId), type: 'DeliveryAcknowledged', data: { ...base, ...(receipt.agencyReference ? { agencyReference: receipt.agencyReference } : {}) } };
    } else {
      // The agency rejected it, or acknowledged something other than what was sent.
      const reasonCode = receipt.status === 'rejected' ? (receipt.reasonCode ?? 'rejected') : 'hash-mismatch';
      const reason = receipt.status === 'rejected' ? (receipt.reason ?? '') : 'the receipt acknowledges other bytes than the hub delivered';
      answer = { ...envelope(messageId, now(), correlationId), type: 'DeliveryRejected', data: { ...base, reasonCode, reason } };
    }
    const judge = async (logged: FinalAnswer): Promise<void> => {
      if (sameAnswer(logged, answer)) {
        stats.repeated++;
        return;
      }
      stats.contradicted++;
      await security.record(sender, {
        code: 'receipt-contradiction',
        reason: `delivery ${receipt.deliveryId} already has its final answer (${logged.type}); a later ${answer.type} is ignored`,
        subject: who,
        messageType: 'Receipt',
      });
    };
    const logged = await finalAnswerOf(receipt.deliveryId);
    if (logged) return judge(logged);
    try {
      // The receipt as signed (its canonical bytes are the signed bytes) and its signature are kept with the answer.
      const signed = { payload: (json as { payload: JsonValue }).payload, signature: { ...(await signatures.keep(parsed.data.signature)) } };
      await log.append(deliveryStream(receipt.deliveryId), [toRecord(answer, { signerKeyId: signer.data.keyId, hubReceivedAt: receivedAt.toISOString(), signed })]);
    } catch (error) {
      // Another receipt for this delivery was logged meanwhile (e.g. by a second hub process).
      const raced = error instanceof DuplicateEventIdError ? await finalAnswerOf(receipt.deliveryId) : undefined;
      if (!raced) throw error;
      return judge(raced);
    }
    if (answer.type === 'DeliveryAcknowledged') stats.acknowledged++;
    else stats.rejected++;
  }

  const consumerConfig = { durable_name: 'hub-receipts', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'elfe.receipt.>' };
  await jsm.consumers.add(receiptStream, consumerConfig);
  // Receipts are handled concurrently (their appends share the log's group commits), those
  // for the same delivery one after the other in the order JetStream stored them, so the
  // first final answer stays the first.
  const lanes = new KeyedLanes(concurrency);
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: { error: (_, message) => console.error(`receipts: ${message}`), warn: (_, message) => console.error(`receipts: ${message}`) } });
  let restarted = false;
  const loopName = options.component?.name ?? 'receipts';
  const receiptsLoop = lifecycle.runLoop(loopName, async (signal) => {
    if (restarted) await jsm.consumers.add(receiptStream, consumerConfig);
    restarted = true;
    const consumer = await js.consumers.get(receiptStream, 'hub-receipts');
    // Short pulls: a pull lost with a dead cluster node is noticed in ~2 s (missed heartbeats);
    // a consumer deleted ends the loop with an error (it is created again) instead of a silent wait.
    const messages = await consumer.consume({ max_messages: 256, expires: 2000, abort_on_missing_resource: true });
    const close = () => void messages.close();
    signal.addEventListener('abort', close, { once: true });
    // Stopped while the consumer was being set up: the listener came too late.
    if (signal.aborted) close();
    // Consuming again after a failure: healthy again (a receipt that cannot be recorded says otherwise).
    lifecycle.component(loopName).succeeded();
    try {
      await receiptsFrom(messages);
    } finally {
      signal.removeEventListener('abort', close);
      await messages.close();
      await lanes.idle();
    }
    if (!signal.aborted) throw new Error('the receipt consumer ended');
  });
  async function receiptsFrom(messages: AsyncIterable<JsMsg>): Promise<void> {
    for await (const m of messages) {
      const json = parseJson(m.data);
      const payload = (json as { payload?: { deliveryId?: unknown; noticeId?: unknown } } | undefined)?.payload;
      // Receipts for the same delivery (or erasure notice) one after the other.
      const deliveryId = payload?.deliveryId ?? payload?.noticeId;
      await lanes.run(typeof deliveryId === 'string' ? deliveryId : '', () =>
        (async () => {
          options.component?.checkFault();
          await handle(json, m.time);
        })().then(
          () => {
            m.ack();
            options.component?.succeeded();
          },
          // Without a current CRL no receipt can be checked: kept in the stream, judged once one is here.
          // Any other failure is reported; the receipt stays in the stream and comes again.
          (error: unknown) => {
            if (!(error instanceof RevocationUnknown)) options.component?.failed(error);
            m.nak(error instanceof RevocationUnknown ? revocationUnknownRetryMs : 1000);
          },
        ),
      );
    }
  }

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
        const messageId = hubDerivedUuid('dead-letter', deliveryId);
        if (await log.getByEventId(messageId)) continue;
        const event: DeliveryDeadLettered = {
          ...envelope(messageId, now(), deliveryId),
          type: 'DeliveryDeadLettered',
          data: { deliveryId, recipient: (delivery.payload?.recipient?.dvdv ?? 'xx:unknown') as DeliveryDeadLettered['data']['recipient'], deliveryAttempts: advisory.deliveries, stream: advisory.stream, consumer: advisory.consumer },
        };
        await log.append(deliveryStream(deliveryId), [toRecord(event)]);
        stats.deadLettered++;
      } catch (error) {
        // A malformed advisory changes nothing in the log; a failed append is reported (its delivery is reconciled from the kept advisories).
        options.component?.failed(error, { advisory: 'max-deliveries' });
      }
    }
  })();

  return {
    stats,
    async stop() {
      await receiptsLoop.stop();
      advisories.unsubscribe();
      await advisoriesDone;
      await security.stop();
    },
  };
}
