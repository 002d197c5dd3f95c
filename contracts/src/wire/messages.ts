import { z } from 'zod';
import {
  BirthRegisteredSchema,
  BirthRegistrationCorrectedSchema,
  ChildIdNrAssignedSchema,
  DeliveryCorrectionSchema,
  DeliveryScheduledSchema,
  MilestoneCodeSchema,
  MilestoneStatusSchema,
  ParentalConsentWithdrawnSchema,
  RecipientSchema,
  TrackingCodeRevokedSchema,
} from '../events/events.ts';
import { DvdvAddressSchema, GeburtenregisterKeySchema } from '../identifiers/registry.ts';
import { TimestampSchema } from '../envelope.ts';
import { DeliveryPayloadSchema } from '../events/dataSets.ts';
import { DetachedSignatureSchema, signedSchema, VerificationError, type Signer, type Verifier } from './signing.ts';
import { fail, ok, type Result } from '../result.ts';
import { deterministicUuid, sha256Hex as sha256HexOf } from '../hashing.ts';

/**
 * The hub's own id namespace. Ids the hub derives (deliveries, receipts, dead letters,
 * checkpoints, security events) are UUIDv8 whose first group is this marker; submitters
 * choose their ids freely outside it. The derivation is public (replays must decide the same
 * ids), so only the marker, refused at the ingress, keeps a submitter from taking a future
 * hub id first. A random (v4) id never carries it; a v8 id from `deterministicUuid` does
 * with probability 2^-32.
 */
const hubIdMarker = 'e1fe0001';

/** An id in the hub's namespace, derived from its inputs like `deterministicUuid`. */
export function hubDerivedUuid(kind: string, ...parts: readonly string[]): string {
  return `${hubIdMarker}${deterministicUuid('elfe-hub', kind, ...parts).slice(8)}`;
}

/** Whether an id lies in the namespace only the hub derives from. */
export const isHubDerivedId = (id: string): boolean => id.toLowerCase().startsWith(hubIdMarker) && id.charAt(14) === '8';

/** A message id a submitter may choose: any UUID outside the hub's namespace. */
const SubmitterMessageIdSchema = z.uuid().refine((id) => !isHubDerivedId(id), 'this id lies in the namespace reserved for ids the hub derives');

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * Envelope fields only the hub sets when it appends (recording time, log position). A
 * submission that carries them is refused (the schemas stay strict), never silently
 * stripped: the hub stores what was signed.
 */
const hubOnly = { recordedAt: true, position: true } as const;

/**
 * What producers (Standesamt, Meldebehörde) submit to the hub's ingress. Who may submit
 * which type for which case is the hub's authority table (hub/src/routing/authority.ts).
 */
const submitted = { messageId: SubmitterMessageIdSchema };
export const SubmissionSchema = z.discriminatedUnion('type', [
  BirthRegisteredSchema.omit(hubOnly).extend(submitted).strict(),
  BirthRegistrationCorrectedSchema.omit(hubOnly).extend(submitted).strict(),
  ParentalConsentWithdrawnSchema.omit(hubOnly).extend(submitted).strict(),
  ChildIdNrAssignedSchema.omit(hubOnly).extend(submitted).strict(),
  TrackingCodeRevokedSchema.omit(hubOnly).extend(submitted).strict(),
]);
export type Submission = z.infer<typeof SubmissionSchema>;
export type SubmissionType = Submission['type'];
export const SignedSubmissionSchema = signedSchema(z.unknown());

export const SubmissionErrorCodeSchema = z.enum([
  'malformed',
  'too-large',
  'signature-malformed',
  'unknown-signer',
  'signature-invalid',
  'certificate-invalid',
  'certificate-revoked',
  'certificate-expired',
  /** The hub holds no current revocation list, so it trusts no certificate for now. */
  'revocation-unknown',
  'role-not-allowed',
  'producer-mismatch',
  /** The signer is not the Standesamt named in the case's register key. */
  'not-case-owner',
  /** The signer is not the Meldebehörde responsible for the case (the hub's table: Standesamt → Meldebehörde). */
  'not-responsible',
  /** A correction, withdrawal or IdNr for a birth case the hub does not know. */
  'unknown-case',
  'invalid-contract',
  'conflict',
  /** A date of the submission (birth, message time) lies in the future beyond the clock-skew tolerance. */
  'date-in-future',
  'unavailable',
]);
export type SubmissionErrorCode = z.infer<typeof SubmissionErrorCodeSchema>;

/** The hub's answer to a submission. */
/**
 * Where a case's hand-offs stand after a submission, per recipient role: `scheduled` (handed
 * to the relay), or what it waits for (`waiting-for-idnr`), or why there is none.
 */
export const HandOffStatusSchema = z.enum([
  'scheduled',
  'waiting-for-idnr',
  'waiting-for-child-name',
  'incomplete',
  'no-consent',
  'no-application-number',
  'consent-withdrawn',
  'unroutable',
]);
export type HandOffStatus = z.infer<typeof HandOffStatusSchema>;

export const HandOffOutlookSchema = z
  .object({
    role: z.enum(['elterngeldstelle', 'familienkasse']),
    dvdv: z.string().max(100).optional(),
    name: z.string().max(200).optional(),
    status: HandOffStatusSchema,
    /** Whether the scheduled hand-off corrects an earlier one to the same recipient. */
    kind: z.enum(['initial', 'correction']).optional(),
  })
  .strict();
export type HandOffOutlook = z.infer<typeof HandOffOutlookSchema>;

/** A tracking code as printed: `K7QM-2XWP-9HDA-R4TC` (Crockford base32, 16 characters, 80 bits). */
export const TrackingCodeSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);

export const SubmissionReplySchema = z.discriminatedUnion('ok', [
  z
    .object({
      ok: z.literal(true),
      messageId: z.uuid(),
      position: z.number().int().nonnegative(),
      duplicate: z.boolean(),
      /** The routing decision for the case as it stands after this submission. */
      routing: z.array(HandOffOutlookSchema).max(10).optional(),
      /** The hub's ingress identity's signature over the answer without this field (see `signReply`). */
      signature: DetachedSignatureSchema.optional(),
      /**
       * The birth's tracking code for the family (Sendungsverfolgung), in answers to the
       * Standesamt that owns the case: 80 bits in four groups of Crockford base32.
       */
      trackingCode: TrackingCodeSchema.optional(),
    })
    .strict(),
  z
    .object({
      ok: z.literal(false),
      messageId: z.string().max(100).optional(),
      error: z.object({ code: SubmissionErrorCodeSchema, message: z.string().max(1000), path: z.string().max(500).optional() }).strict(),
      signature: DetachedSignatureSchema.optional(),
    })
    .strict(),
]);
export type SubmissionReply = z.infer<typeof SubmissionReplySchema>;

/** The hub's answer, signed by its ingress identity over the answer without the signature. */
export function signReply(reply: SubmissionReply, signer: Signer): SubmissionReply {
  const { signature: _, ...unsigned } = reply;
  return { ...unsigned, signature: signer.sign(unsigned) } as SubmissionReply;
}

/**
 * Whether an answer is the hub's: signed, by a certificate of the `hub` role with the expected
 * address (the hub's ingress), and about the message that was sent (an answer without a
 * message id is taken only as a refusal of an unreadable submission).
 */
export function verifyReply(reply: SubmissionReply, verifier: Verifier, expected: { dvdv: string; messageId: string }): Result<SubmissionReply, VerificationError> {
  const { signature, ...unsigned } = reply;
  if (!signature) return fail(new VerificationError('signature-malformed', 'the answer is not signed'));
  const who = verifier.verify(unsigned, signature);
  if (!who.success) return who;
  if (who.data.role !== 'hub' || who.data.dvdv !== expected.dvdv) return fail(new VerificationError('signature-invalid', `the answer is signed by ${who.data.role} ${who.data.dvdv}, not by the hub's ${expected.dvdv}`));
  if (reply.messageId !== undefined ? reply.messageId !== expected.messageId : reply.ok) return fail(new VerificationError('signature-invalid', 'the answer is about another message'));
  return ok(reply);
}

/** A delivery as the hub publishes it to an agency (signed by the hub). */
export const DeliverySchema = z
  .object({
    deliveryId: z.uuid(),
    /**
     * Not sent any more: deliveries sit in JetStream, and the register key identifies a
     * person's case. The agency reads it from the encrypted payload. Accepted for old messages.
     */
    registerKey: GeburtenregisterKeySchema.optional(),
    recipient: RecipientSchema,
    kind: DeliveryScheduledSchema.shape.data.shape.kind,
    legalBasis: z.string().min(1).max(200),
    purpose: z.string().min(1).max(500),
    payload: DeliveryPayloadSchema.optional(),
    /** The payload as a JWE for the recipient's certificate key, when payloads are confidential. */
    payloadJwe: DeliveryScheduledSchema.shape.data.shape.payloadJwe,
    /**
     * SHA-256 of the canonical bytes of a clear `payload`, which it travels with. Never beside a
     * JWE: deliveries sit in JetStream, and the hash of a plaintext data set confirms a guessed
     * one (a name and a birth date); the hub's signature over the delivery and the JWE's
     * AES-GCM tag protect the ciphertext. Accepted beside a JWE for old messages only.
     */
    payloadHash: sha256Hex.optional(),
    /**
     * A correction: the delivery it corrects (in clear: an id, no personal data) and the
     * Standesamt's reason, as a JWE for the same recipient whenever the payload is one.
     */
    correction: DeliveryCorrectionSchema.optional(),
    /** Log position of the `DeliveryScheduled` entry. */
    logPosition: z.number().int().nonnegative(),
    scheduledAt: TimestampSchema,
  })
  .strict()
  .refine((d) => (d.payload === undefined) !== (d.payloadJwe === undefined), 'exactly one of payload and payloadJwe')
  .refine((d) => d.payload === undefined || d.payloadHash !== undefined, { message: 'a clear payload travels with its hash', path: ['payloadHash'] })
  .refine((d) => d.correction === undefined || d.kind === 'correction', { message: 'only a correction names a corrected delivery', path: ['correction'] })
  .refine((d) => d.correction === undefined || (d.payloadJwe === undefined) === (d.correction.reasonJwe === undefined), {
    message: 'the reason is encrypted exactly when the payload is',
    path: ['correction'],
  });
export type Delivery = z.infer<typeof DeliverySchema>;

/**
 * What a receipt's `receivedHash` is for a delivery: for a JWE payload, SHA-256 of the JWE
 * compact string exactly as received (ciphertext under a random content key: it says nothing
 * about the plaintext, and a known data set cannot be confirmed from it); for a clear payload,
 * the canonical hash of the payload (its `payloadHash`). The agency computes it from what it
 * received; the hub from the scheduled delivery in its sealed log.
 */
export function receivedHashOf(delivery: { readonly payloadJwe?: string | undefined; readonly payloadHash?: string | undefined }): string | undefined {
  return delivery.payloadJwe !== undefined ? sha256HexOf(delivery.payloadJwe) : delivery.payloadHash;
}
export const SignedDeliverySchema = signedSchema(DeliverySchema);

/** An agency's receipt for a delivery (signed by the agency). */
export const ReceiptSchema = z
  .object({
    deliveryId: z.uuid(),
    recipient: DvdvAddressSchema,
    status: z.enum(['acknowledged', 'rejected']),
    /**
     * SHA-256 of exactly what was received (`receivedHashOf`): of the JWE compact string when the
     * payload came encrypted, of the payload's canonical bytes when it came in clear.
     */
    receivedHash: sha256Hex,
    receivedAt: TimestampSchema,
    reasonCode: z.string().min(1).max(50).optional(),
    reason: z.string().max(500).optional(),
    agencyReference: z.string().min(1).max(100).optional(),
  })
  .strict();
export type Receipt = z.infer<typeof ReceiptSchema>;
export const SignedReceiptSchema = signedSchema(ReceiptSchema);

/**
 * An erasure notice as the hub publishes it to a recipient of an erased case's deliveries, on
 * the recipient's delivery subject (signed by the hub, Art. 19 DSGVO). It names the deliveries
 * by id only: no register key, no personal data.
 */
export const ErasureNoticeSchema = z
  .object({
    type: z.literal('erasure-notice'),
    noticeId: z.uuid(),
    recipient: RecipientSchema,
    /** The erased case's deliveries to this recipient (inbox files are named by these ids). */
    deliveryIds: z.array(z.uuid()).min(1).max(100),
    erasedAt: TimestampSchema,
    reason: z.string().min(1).max(500),
    legalBasis: z.string().min(1).max(200),
    /** Log position of the `ErasureNoticeScheduled` entry. */
    logPosition: z.number().int().nonnegative(),
    scheduledAt: TimestampSchema,
  })
  .strict();
export type ErasureNotice = z.infer<typeof ErasureNoticeSchema>;
export const SignedErasureNoticeSchema = signedSchema(ErasureNoticeSchema);

/** An agency's receipt of an erasure notice (signed by the agency): the deliveries are removed. */
export const ErasureReceiptSchema = z
  .object({
    type: z.literal('erasure-receipt'),
    noticeId: z.uuid(),
    recipient: DvdvAddressSchema,
    status: z.literal('erased'),
    deliveryIds: z.array(z.uuid()).min(1).max(100),
    /** When the agency's connector removed them. */
    erasedAt: TimestampSchema,
  })
  .strict();
export type ErasureReceipt = z.infer<typeof ErasureReceiptSchema>;
export const SignedErasureReceiptSchema = signedSchema(ErasureReceiptSchema);


/**
 * An agency's milestone for a hand-off it received (signed by the agency, published on its
 * receipt subject): what became of it. No amounts, no reasons beyond a code.
 */
export const MilestoneSchema = z
  .object({
    type: z.literal('milestone'),
    milestoneId: z.uuid(),
    deliveryId: z.uuid(),
    recipient: DvdvAddressSchema,
    status: MilestoneStatusSchema,
    code: MilestoneCodeSchema.optional(),
    reportedAt: TimestampSchema,
  })
  .strict();
export type Milestone = z.infer<typeof MilestoneSchema>;
export const SignedMilestoneSchema = signedSchema(MilestoneSchema);

/**
 * The hub's answer to an agency's milestone, signed by the hub and published (core NATS) on the
 * agency's own inbox (`milestoneAnswerSubject`): `logged` (now or before), or `refused` with
 * the code the hub recorded as a security event. Sent again each time the milestone arrives.
 */
export const MilestoneAnswerSchema = z
  .object({
    type: z.literal('milestone-answer'),
    milestoneId: z.uuid(),
    deliveryId: z.uuid(),
    recipient: DvdvAddressSchema,
    outcome: z.enum(['logged', 'refused']),
    /** For `logged`: it had been logged before (the same report again). */
    duplicate: z.boolean().optional(),
    code: z.string().max(50).optional(),
    message: z.string().max(500).optional(),
    answeredAt: TimestampSchema,
  })
  .strict();
export type MilestoneAnswer = z.infer<typeof MilestoneAnswerSchema>;
export const SignedMilestoneAnswerSchema = signedSchema(MilestoneAnswerSchema);
