// The hub's front door: a Standesamt (or Meldebehörde) submits a signed contract event over
// NATS request/reply. The hub checks size, signature, the signer's role and that the signer
// is the producer named in the envelope, validates the contract, deduplicates by message id,
// appends, and replies with the log position or a typed refusal. Refusals of who-is-speaking
// (signature, role, producer) are recorded as security events, without the payload.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  SignedSubmissionSchema,
  SubmissionSchema,
  submissionPermissions,
  submitSubject,
  type SubmissionErrorCode,
  type SubmissionReply,
  type Verifier,
} from '../../../contracts/index.ts';
import { DuplicateEventIdError, WrongExpectedRevisionError, type EventStore, type ExpectedRevision } from '../log/eventStore.ts';
import { securityEvent, toRecord } from '../log/records.ts';
import { birthStream, securityStream } from '../log/streams.ts';

export interface IngressOptions {
  readonly nc: NatsConnection;
  readonly log: EventStore;
  readonly verifier: Verifier;
  /** Largest accepted submission in bytes. */
  readonly maxBytes?: number;
  readonly now?: () => Date;
}

export interface Ingress {
  readonly stats: { accepted: number; duplicates: number; refused: number };
  stop(): Promise<void>;
}

const decoder = new TextDecoder();
const refusal = (code: SubmissionErrorCode, message: string, extra: { messageId?: string; path?: string } = {}): SubmissionReply => ({
  ok: false,
  ...(extra.messageId ? { messageId: extra.messageId } : {}),
  error: { code, message: message.slice(0, 1000), ...(extra.path ? { path: extra.path.slice(0, 500) } : {}) },
});

export function startIngress(options: IngressOptions): Ingress {
  const { nc, log, verifier } = options;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const now = options.now ?? (() => new Date());
  const stats = { accepted: 0, duplicates: 0, refused: 0 };
  const inFlight = new Set<Promise<void>>();

  const recordSecurity = async (code: string, reason: string, subject: { dvdv?: string; role?: string }, messageType?: string, refusedMessageId?: string) => {
    const event = securityEvent(now(), {
      code,
      reason: reason.slice(0, 500),
      subject,
      ...(messageType ? { messageType: messageType.slice(0, 100) } : {}),
      ...(refusedMessageId ? { refusedMessageId: refusedMessageId.slice(0, 100) } : {}),
    });
    await log.append(securityStream, [toRecord(event)]);
  };

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
    const payload = signed.data.payload as { messageId?: unknown; type?: unknown; producer?: { dvdv?: unknown } } | null;
    const messageId = typeof payload?.messageId === 'string' ? payload.messageId : undefined;
    const type = typeof payload?.type === 'string' ? payload.type : undefined;
    const verified = verifier.verify(signed.data.payload, signed.data.signature, now());
    if (!verified.success) {
      await recordSecurity(verified.error.code, verified.error.message, {}, type, messageId);
      return refusal(verified.error.code, verified.error.message, messageId ? { messageId } : {});
    }
    const signer = verified.data;
    const submission = SubmissionSchema.safeParse(signed.data.payload);
    if (!submission.success) {
      const issue = submission.error.issues[0];
      return refusal('invalid-contract', issue?.message ?? 'invalid', { ...(messageId ? { messageId } : {}), path: issue?.path.join('.') ?? '' });
    }
    const event = submission.data;
    if (!submissionPermissions[event.type].includes(signer.role)) {
      await recordSecurity('role-not-allowed', `${signer.role} may not submit ${event.type}`, { dvdv: signer.dvdv, role: signer.role }, event.type, event.messageId);
      return refusal('role-not-allowed', `a ${signer.role} may not submit ${event.type}`, { messageId: event.messageId });
    }
    if (event.producer.dvdv !== signer.dvdv || event.producer.role !== signer.role) {
      await recordSecurity('producer-mismatch', `signed by ${signer.dvdv}, envelope names ${event.producer.dvdv}`, { dvdv: signer.dvdv, role: signer.role }, event.type, event.messageId);
      return refusal('producer-mismatch', 'the signer is not the producer named in the envelope', { messageId: event.messageId });
    }
    const existing = await log.getByEventId(event.messageId);
    if (existing) {
      stats.duplicates++;
      return { ok: true, messageId: event.messageId, position: existing.position, duplicate: true };
    }
    const stream = birthStream(event.data.registerKey);
    const record = toRecord(event, { signerKeyId: signer.keyId, signerDvdv: signer.dvdv, receivedAt: now().toISOString() });
    for (let attempt = 0; ; attempt++) {
      // A birth is registered once: the check and the append meet at one stream revision.
      let expected: ExpectedRevision = 'any';
      if (event.type === 'BirthRegistered') {
        let head: number | undefined;
        for await (const e of log.readStream(stream)) {
          if (e.type === 'BirthRegistered') return refusal('conflict', 'this birth is already registered; send a BirthRegistrationCorrected', { messageId: event.messageId });
          head = e.streamRevision;
        }
        expected = head ?? 'no-stream';
      }
      try {
        const appended = await log.append(stream, [record], expected);
        stats.accepted++;
        return { ok: true, messageId: event.messageId, position: appended.positions[0]!, duplicate: false };
      } catch (error) {
        if (error instanceof DuplicateEventIdError) {
          const stored = await log.getByEventId(event.messageId);
          if (stored) {
            stats.duplicates++;
            return { ok: true, messageId: event.messageId, position: stored.position, duplicate: true };
          }
        }
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= 3) throw error;
      }
    }
  }

  const respond = async (m: Msg) => {
    let reply: SubmissionReply;
    try {
      reply = await handle(m.data);
    } catch (error) {
      reply = refusal('unavailable', `the hub could not record the submission: ${(error as Error).message}`);
    }
    if (!reply.ok) stats.refused++;
    m.respond(JSON.stringify(reply));
  };

  const sub: Subscription = nc.subscribe(submitSubject, {
    queue: 'elfe-hub-ingress',
    callback: (error, m) => {
      if (error) return;
      const p = respond(m).finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
  });

  return {
    stats,
    async stop() {
      await sub.drain();
      await Promise.all(inFlight);
    },
  };
}
