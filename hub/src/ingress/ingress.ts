// The hub's front door: a Standesamt (or Meldebehörde) submits a signed contract event over
// NATS request/reply. The hub checks size, signature, the signer's role and that the signer
// is the producer named in the envelope, validates the contract, asks the authority table
// whether the signer may say this about this case (routing/authority.ts), deduplicates by
// message id (same submission by the same signer only), appends, and replies with the log
// position or a typed refusal. Refusals of who-is-speaking and of authority are security
// events naming the signer, never the payload, rate limited per sender. Work in flight is
// bounded: beyond `maxInFlight` the answer is `unavailable` at once. Dates in the future
// (beyond the clock-skew tolerance) are refused with `date-in-future`, the same rule and
// code the Standesamt's side applies. An accepted submission is answered with where the
// case's hand-offs stand (routing/birthCase.ts). The child's IdNr is taken only from the
// Meldebehörde responsible for the case (`meldebehoerden`, default: `elfe exchange init`'s
// single `mbh:demo`), once: the same IdNrs again are a duplicate, different ones a `conflict`
// and a security event, unless sent as an explicit correction (routing/authority.ts).
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  canonicalHash,
  defaultClockSkewMs,
  futureDateOf,
  signReply,
  type Signer,
  SignedSubmissionSchema,
  SubmissionSchema,
  submitSubject,
  isInboxOf,
  senderOfSubmitSubject,
  type DetachedSignature,
  type SignerIdentity,
  type Submission,
  type SubmissionErrorCode,
  type SubmissionReply,
  type Verifier,
} from '../../../contracts/index.ts';
import { CaseErasedError } from '../log/caseLog.ts';
import { fromRecord } from '../log/records.ts';
import { correctedRoles, evolve, initialState, outlookOf, type CaseState } from '../routing/birthCase.ts';
import { DuplicateEventIdError, WrongExpectedRevisionError, type EventStore, type ExpectedRevision, type JsonValue, type StoredEvent } from '../log/eventStore.ts';
import { toRecord } from '../log/records.ts';
import { SignatureKeeper } from '../log/signatures.ts';
import { logStorage } from '../log/storageHealth.ts';
import { birthStream } from '../log/streams.ts';
import type { GeburtenregisterKey } from '../../../contracts/index.ts';
import { authorityRule, decideAuthority, decideIdNr } from '../routing/authority.ts';
import { defaultMeldebehoerdeTable, responsibleMeldebehoerde, type MeldebehoerdeTable, type RoutingTable } from '../routing/routingTable.ts';
import type { Component } from '../../../connectors/kit/lifecycle.ts';
import { claimedSubject, senderOf, startSecurityRecorder, verifiedSubject, type SecurityEventLimits, type SecuritySubject } from './securityEvents.ts';

export interface IngressOptions {
  readonly nc: NatsConnection;
  readonly log: EventStore;
  readonly verifier: Verifier;
  /** Largest accepted submission in bytes. */
  readonly maxBytes?: number;
  /** Submissions handled at once; beyond it the ingress answers `unavailable` at once. Default 256. */
  readonly maxInFlight?: number;
  /** Rate limit of security events per sender. */
  readonly securityEvents?: SecurityEventLimits;
  readonly now?: () => Date;
  /** The log stream of a birth case (default: the register key in clear; the hub passes the case log's keyed one). */
  readonly caseStream?: (registerKey: GeburtenregisterKey) => string;
  /** Signs every answer (the hub's ingress identity), so an office reports nothing the hub did not say. */
  readonly replySigner?: Signer;
  /** Tolerance for clocks running ahead of the hub's (default 5 minutes). */
  readonly clockSkewMs?: number;
  /** The routing table, to answer where the case's hand-offs stand; without it the answer carries none. */
  readonly routing?: RoutingTable;
  /** Which Meldebehörde is responsible for a case, by Standesamt (default: `mbh:demo` for every case). */
  readonly meldebehoerden?: MeldebehoerdeTable;
  /**
   * The tracking code of a case (its stream) in a generation (the revocations so far): the
   * answers to the case's Standesamt carry it; without it they carry none.
   */
  readonly trackingCode?: (caseStream: string, generation: number) => string;
  /** Where the ingress reports a submission it could not record (logged, counted, unhealthy until one is recorded again). */
  readonly component?: Component;
}

export interface Ingress {
  readonly stats: {
    accepted: number;
    duplicates: number;
    refused: number;
    /** Refused at once because `maxInFlight` submissions were being handled. */
    busy: number;
    /** Not answered: the reply subject was not the sender's own inbox. */
    unanswered: number;
    securityEvents: number;
    securityEventsSuppressed: number;
  };
  stop(): Promise<void>;
}

const decoder = new TextDecoder();
const refusal = (code: SubmissionErrorCode, message: string, extra: { messageId?: string; path?: string } = {}): SubmissionReply => ({
  ok: false,
  ...(extra.messageId ? { messageId: extra.messageId } : {}),
  error: { code, message: message.slice(0, 1000), ...(extra.path ? { path: extra.path.slice(0, 500) } : {}) },
});

/**
 * One answer for every conflict with what the log holds, so that it does not tell a
 * submitter whether someone else already used a message id.
 */
const conflictMessage =
  'the submission conflicts with the log: its message id is already used, or the birth is already registered with other content (send the changed registration as a correction: elfe standesamt correct)';

/**
 * What makes two submissions the same: the type and the data (not when they were written, so
 * a re-run after an unclear answer is the same submission); a consent withdrawal is one fact
 * per case, whenever it was sent again.
 */
const sameContent = (type: string, storedData: unknown, data: unknown): boolean =>
  type === 'ParentalConsentWithdrawn' || canonicalHash(storedData) === canonicalHash(data);

/** The same submission by the same signer: only then is a resend answered as a duplicate. */
function isSameSubmission(existing: StoredEvent, event: Submission, signedData: unknown, stream: string, signer: SignerIdentity): boolean {
  const stored = existing.data as { producer?: { dvdv?: unknown }; data?: unknown } | null;
  const metadata = existing.metadata as { signerDvdv?: unknown } | null;
  return (
    existing.type === event.type &&
    existing.stream === stream &&
    stored?.producer?.dvdv === signer.dvdv &&
    metadata?.signerDvdv === signer.dvdv &&
    sameContent(event.type, stored?.data, signedData)
  );
}

export function startIngress(options: IngressOptions): Ingress {
  const { nc, log, verifier } = options;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const maxInFlight = options.maxInFlight ?? 256;
  const now = options.now ?? (() => new Date());
  const stats = { accepted: 0, duplicates: 0, refused: 0, busy: 0, unanswered: 0, securityEvents: 0, securityEventsSuppressed: 0 };
  const inFlight = new Set<Promise<void>>();
  const security = startSecurityRecorder(log, now, stats, options.securityEvents);
  const caseStream = options.caseStream ?? birthStream;
  const signatures = new SignatureKeeper(log, now);
  const clockSkewMs = options.clockSkewMs ?? defaultClockSkewMs;
  const meldebehoerden = options.meldebehoerden ?? defaultMeldebehoerdeTable;
  /** The case's state from its stream, for the answer's routing outlook. */
  const readCase = async (stream: string): Promise<CaseState> => {
    let state = initialState;
    for await (const stored of log.readStream(stream)) {
      const e = fromRecord(stored);
      if (e) state = evolve(state, e);
    }
    return state;
  };
  const routingOf = (state: CaseState, event: Submission) => (options.routing ? { routing: outlookOf(state, options.routing, correctedRoles(event)) } : {});
  /** The case's current tracking code, for an answer to its Standesamt (read after the append: a revocation counts). */
  const trackingOf = async (stream: string, event: Submission): Promise<{ trackingCode?: string }> => {
    if (!options.trackingCode || event.producer.role !== 'standesamt') return {};
    let generation = 0;
    let registered = false;
    for await (const e of log.readStream(stream)) {
      if (e.type === 'BirthRegistered') registered = true;
      if (e.type === 'TrackingCodeRevoked') generation++;
    }
    return registered ? { trackingCode: options.trackingCode(stream, generation) } : {};
  };

  const recordSecurity = (code: string, reason: string, sender: string | undefined, subject: SecuritySubject, messageType?: string, refusedMessageId?: string) =>
    security.record(sender, {
      code,
      reason: reason.slice(0, 500),
      subject,
      ...(messageType ? { messageType: messageType.slice(0, 100) } : {}),
      ...(refusedMessageId ? { refusedMessageId: refusedMessageId.slice(0, 100) } : {}),
    });

  async function handle(data: Uint8Array): Promise<SubmissionReply> {
    if (data.length > maxBytes) return refusal('too-large', `submission exceeds ${maxBytes} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(data));
    } catch {
      return refusal('malformed', 'not JSON');
    }
    const signed = SignedSubmissionSchema.safeParse(json);
    if (!signed.success) {
      const bad = signed.error.issues[0];
      return refusal(bad?.path[0] === 'signature' ? 'signature-malformed' : 'malformed', 'expected {payload, signature}', { path: bad?.path.join('.') ?? '' });
    }
    const signature: DetachedSignature = signed.data.signature;
    const payload = signed.data.payload as { messageId?: unknown; type?: unknown; producer?: { dvdv?: unknown } } | null;
    const messageId = typeof payload?.messageId === 'string' ? payload.messageId : undefined;
    const type = typeof payload?.type === 'string' ? payload.type : undefined;
    const verified = verifier.verify(signed.data.payload, signature, now());
    if (!verified.success) {
      // The hub's own state, not the sender's doing: without a current CRL nothing can be checked
      // now; answered as retryable, so the submission waits in the office's outbox.
      if (verified.error.code === 'revocation-unknown') return refusal('unavailable', `the hub cannot check certificates now (${verified.error.message}); retry later`, messageId ? { messageId } : {});
      await recordSecurity(verified.error.code, verified.error.message, undefined, claimedSubject(signature), type, messageId);
      return refusal(verified.error.code, verified.error.message, messageId ? { messageId } : {});
    }
    const signer = verified.data;
    const who = verifiedSubject(signer, signature);
    const submission = SubmissionSchema.safeParse(signed.data.payload);
    if (!submission.success) {
      const issue = submission.error.issues[0];
      return refusal('invalid-contract', issue?.message ?? 'invalid', { ...(messageId ? { messageId } : {}), path: issue?.path.join('.') ?? '' });
    }
    const event = submission.data;
    // Who is speaking first: a role that may never submit this type, then the envelope's producer.
    if (!authorityRule(event.type, signer.role)) {
      await recordSecurity('role-not-allowed', `${signer.role} may not submit ${event.type}`, senderOf(signer), who, event.type, event.messageId);
      return refusal('role-not-allowed', `a ${signer.role} may not submit ${event.type}`, { messageId: event.messageId });
    }
    if (event.producer.dvdv !== signer.dvdv || event.producer.role !== signer.role) {
      await recordSecurity('producer-mismatch', `signed by ${signer.dvdv}, envelope names ${event.producer.dvdv}`, senderOf(signer), who, event.type, event.messageId);
      return refusal('producer-mismatch', 'the signer is not the producer named in the envelope', { messageId: event.messageId });
    }
    // Plausible against the hub's clock: nothing reported can lie in the future.
    const future = futureDateOf(event, now(), clockSkewMs);
    if (future) return refusal('date-in-future', future.message, { messageId: event.messageId, path: future.path });
    const stream = caseStream(event.data.registerKey);
    const answerExisting = async (existing: StoredEvent): Promise<SubmissionReply> => {
      if (!isSameSubmission(existing, event, (signed.data.payload as { data?: unknown }).data, stream, signer)) return refusal('conflict', conflictMessage, { messageId: event.messageId });
      stats.duplicates++;
      return { ok: true, messageId: event.messageId, position: existing.position, duplicate: true, ...(options.routing ? routingOf(await readCase(stream), event) : {}), ...(await trackingOf(stream, event)) };
    };
    const existing = await log.getByEventId(event.messageId);
    if (existing) return await answerExisting(existing);
    // The log keeps exactly what was signed (the submitted payload, whose canonical bytes are
    // the signed bytes) and the signature; the certificate once, by fingerprint.
    const kept = await signatures.keep(signature);
    const record = { ...toRecord(event, { signerKeyId: signer.keyId, signerDvdv: signer.dvdv, receivedAt: now().toISOString(), signed: { signature: { ...kept } } }), data: signed.data.payload as JsonValue };
    for (let attempt = 0; ; attempt++) {
      // Authority over the case, and for a registration the check and the append, meet at one stream revision.
      let head: number | undefined;
      let caseExists = false;
      let erased = false;
      let withdrawal: StoredEvent | undefined;
      /** The latest IdNr entry: what a resend of the same IdNrs is the duplicate of. */
      let idnrEntry: StoredEvent | undefined;
      let state = initialState;
      for await (const e of log.readStream(stream)) {
        if (e.type === 'BirthRegistered') caseExists = true;
        if (e.type === 'CaseErased') erased = true;
        if (e.type === 'ParentalConsentWithdrawn') withdrawal ??= e;
        if (e.type === 'ChildIdNrAssigned') idnrEntry = e;
        head = e.streamRevision;
        if (options.routing || event.type === 'ChildIdNrAssigned') {
          const known = fromRecord(e);
          if (known) state = evolve(state, known);
        }
      }
      if (erased) return refusal('unknown-case', 'this birth case was erased', { messageId: event.messageId });
      const responsible = responsibleMeldebehoerde(meldebehoerden, event.data.registerKey);
      const authority = decideAuthority({ type: event.type, signer, registerKey: event.data.registerKey, caseExists, responsibleMeldebehoerde: responsible });
      if (!authority.success) {
        const { code, reason } = authority.error;
        if (code === 'conflict') return refusal('conflict', conflictMessage, { messageId: event.messageId });
        await recordSecurity(code, reason, senderOf(signer), who, event.type, event.messageId);
        return refusal(code, reason, { messageId: event.messageId });
      }
      // The consent is withdrawn once; a second withdrawal by the case's owner is the same fact.
      if (event.type === 'ParentalConsentWithdrawn' && withdrawal) {
        stats.duplicates++;
        return { ok: true, messageId: event.messageId, position: withdrawal.position, duplicate: true, ...routingOf(state, event), ...(await trackingOf(stream, event)) };
      }
      // The IdNr once: the same again is a duplicate; a different one only as an explicit correction.
      if (event.type === 'ChildIdNrAssigned') {
        const verdict = decideIdNr(state.ids, event.data);
        if (!verdict.success) {
          await recordSecurity('idnr-conflict', verdict.error.reason, senderOf(signer), who, event.type, event.messageId);
          return refusal('conflict', verdict.error.reason, { messageId: event.messageId });
        }
        if (verdict.data === 'same' && idnrEntry) {
          stats.duplicates++;
          return { ok: true, messageId: event.messageId, position: idnrEntry.position, duplicate: true, ...routingOf(state, event) };
        }
      }
      // A registration, and an IdNr (checked against the IdNrs known at `head`), meet the log at the revision they were checked at.
      const expected: ExpectedRevision = authority.data.caseMust === 'absent' || event.type === 'ChildIdNrAssigned' ? (head ?? 'no-stream') : 'any';
      try {
        const appended = await log.append(stream, [record], expected);
        stats.accepted++;
        return { ok: true, messageId: event.messageId, position: appended.positions[0]!, duplicate: false, ...routingOf(evolve(state, event), event), ...(await trackingOf(stream, event)) };
      } catch (error) {
        if (error instanceof DuplicateEventIdError) {
          const stored = await log.getByEventId(event.messageId);
          if (stored) return await answerExisting(stored);
        }
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= 3) throw error;
      }
    }
  }

  // Each party submits on its own subject (`elfe.submit.psw.11007007`, enforced by the
  // nats-server), and the hub answers only on that party's own inbox: never on a subject the
  // sender chose to make the hub act elsewhere (the JetStream API, another party's inbox). The
  // responding connection itself may publish nothing but responses.
  const answer = (m: Msg, reply: SubmissionReply) => {
    const sender = senderOfSubmitSubject(m.subject);
    if (!m.reply || !sender || !isInboxOf(m.reply, sender)) {
      stats.unanswered++;
      return;
    }
    m.respond(JSON.stringify(options.replySigner ? signReply(reply, options.replySigner) : reply));
  };

  const respond = async (m: Msg) => {
    let reply: SubmissionReply;
    try {
      options.component?.checkFault();
      reply = await handle(m.data);
      options.component?.succeeded();
    } catch (error) {
      // A case erased while its submission was in flight is gone, not busy: the same answer as after.
      // A full disk (the log, its tree, the case keys) is told apart: counted, logged once per episode.
      const erased = error instanceof CaseErasedError;
      const storageFull = !erased && logStorage.failed(error, 'ingress');
      if (!erased && !storageFull) options.component?.failed(error);
      reply = erased
          ? refusal('unknown-case', 'this birth case was erased')
          : storageFull
            ? refusal('unavailable', 'the hub cannot record the submission now: its storage is full; send it again later')
            : refusal('unavailable', `the hub could not record the submission: ${(error as Error).message}`);
    }
    if (!reply.ok) stats.refused++;
    answer(m, reply);
  };

  const sub: Subscription = nc.subscribe(`${submitSubject}.>`, {
    queue: 'elfe-hub-ingress',
    callback: (error, m) => {
      if (error) {
        options.component?.failed(error, { subject: submitSubject });
        return;
      }
      if (inFlight.size >= maxInFlight) {
        // Busy: answer at once rather than queue without bound; the submitter retries.
        stats.busy++;
        stats.refused++;
        answer(m, refusal('unavailable', 'the hub is busy; retry later'));
        return;
      }
      const p = respond(m).finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
  });

  return {
    stats,
    async stop() {
      await sub.drain();
      await Promise.all(inFlight);
      await security.stop();
    },
  };
}
