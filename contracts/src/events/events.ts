import { z } from 'zod';
import { EnvelopeSchema, RoleSchema, TimestampSchema } from '../envelope.ts';
import { IdNrSchema } from '../identifiers/idnr.ts';
import { DvdvAddressSchema, formatRegisterKey, GeburtenregisterKeySchema } from '../identifiers/registry.ts';
import { BirthRegisteredDataSchema } from './birthRegistered.ts';
import { DeliveryPayloadSchema } from './dataSets.ts';


const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 as 64 lowercase hex digits');
const jweCompact = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$/, 'a JWE in compact serialisation').max(200_000);

/** An event: the envelope plus its typed `data`, discriminated on `type`. */
function event<T extends string, V extends number, D extends z.ZodType>(type: T, schemaVersion: V, data: D) {
  return EnvelopeSchema.extend({ type: z.literal(type), schemaVersion: z.literal(schemaVersion), data }).strict();
}

export const RecipientSchema = z
  .object({
    role: RoleSchema.extract(['elterngeldstelle', 'familienkasse']),
    dvdv: DvdvAddressSchema,
    name: z.string().min(1).max(200),
  })
  .strict();
export type Recipient = z.infer<typeof RecipientSchema>;

export const BirthRegisteredSchema = event('BirthRegistered', 1, BirthRegisteredDataSchema);

export const BirthRegistrationCorrectedSchema = event(
  'BirthRegistrationCorrected',
  1,
  z
    .object({
      registerKey: GeburtenregisterKeySchema,
      /** The registration as it reads after the correction (replaces the earlier one). */
      registration: BirthRegisteredDataSchema,
      reason: z.string().min(1).max(500),
    })
    .strict()
    // The case is named by `registerKey`; a correction cannot move the registration to another case.
    .refine((d) => formatRegisterKey(d.registration.registerKey) === formatRegisterKey(d.registerKey), {
      message: 'registration.registerKey must be the corrected case\'s registerKey',
      path: ['registration', 'registerKey'],
    }),
);

export const ParentalConsentWithdrawnSchema = event(
  'ParentalConsentWithdrawn',
  1,
  z
    .object({
      registerKey: GeburtenregisterKeySchema,
      /** Consent is withdrawn for the future: earlier deliveries stay valid. */
      withdrawnAt: TimestampSchema,
      recipientRole: z.literal('elterngeldstelle'),
    })
    .strict(),
);

export const ChildIdNrAssignedSchema = event(
  'ChildIdNrAssigned',
  1,
  z
    .object({
      registerKey: GeburtenregisterKeySchema,
      childIdNr: IdNrSchema,
      /** IdNrs of the parents, when the Meldebehörde knows them. */
      parent1IdNr: IdNrSchema.optional(),
      parent2IdNr: IdNrSchema.optional(),
      /**
       * An explicit correction of IdNrs the Meldebehörde assigned before (they replace the
       * earlier ones), with its reason; re-delivered to the Familienkasse as a correction.
       * Without it, an IdNr that differs from one already assigned is refused (`conflict`).
       */
      correction: z.object({ reason: z.string().min(1).max(500) }).strict().optional(),
    })
    .strict(),
);

/**
 * What marks a delivery as a correction: the delivery it corrects (the last one to the same
 * recipient; for the Elterngeldstelle, the `nachrichtenUUID` of that 131011) and the
 * Standesamt's reason. The reason is free text that may name persons: it travels as a JWE for
 * the recipient whenever the payload does (`reasonJwe`, see `encryptReason`), in clear only
 * beside a clear payload. The reference carries no personal data.
 */
export const DeliveryCorrectionSchema = z
  .object({
    corrects: z.uuid(),
    reason: z.string().min(1).max(500).optional(),
    reasonJwe: jweCompact.optional(),
  })
  .strict()
  .refine((c) => (c.reason === undefined) !== (c.reasonJwe === undefined), 'exactly one of reason and reasonJwe');
export type DeliveryCorrection = z.infer<typeof DeliveryCorrectionSchema>;

export const DeliveryScheduledSchema = event(
  'DeliveryScheduled',
  1,
  z
    .object({
      deliveryId: z.uuid(),
      registerKey: GeburtenregisterKeySchema,
      recipient: RecipientSchema,
      kind: z.enum(['initial', 'correction']),
      legalBasis: z.string().min(1).max(200),
      purpose: z.string().min(1).max(500),
      /** The minimal data set the recipient is entitled to (absent when only the ciphertext is kept). */
      payload: DeliveryPayloadSchema.optional(),
      /** The same data set as a JWE (RFC 7516) encrypted to the recipient's certificate key. */
      payloadJwe: jweCompact.optional(),
      /**
       * SHA-256 of the canonical bytes of the plaintext payload, kept in the sealed log only. A
       * receipt repeats it for a clear payload; for a JWE it carries the JWE's hash instead,
       * and the relay does not put it on the wire (`receivedHashOf`).
       */
      payloadHash: sha256Hex,
      /** A correction: the delivery it corrects and why (absent in logs written before it existed). */
      correction: DeliveryCorrectionSchema.optional(),
    })
    .strict()
    .refine((d) => (d.payload === undefined) !== (d.payloadJwe === undefined), 'exactly one of payload and payloadJwe')
    .refine((d) => d.correction === undefined || d.kind === 'correction', { message: 'only a correction names a corrected delivery', path: ['correction'] })
    .refine((d) => d.correction === undefined || (d.payloadJwe === undefined) === (d.correction.reasonJwe === undefined), {
      message: 'the reason is encrypted exactly when the payload is',
      path: ['correction'],
    }),
);

const receiptFields = {
  deliveryId: z.uuid(),
  recipient: DvdvAddressSchema,
  /**
   * SHA-256 of exactly what the agency received: the JWE compact string when the payload was
   * one (entries logged before this was so carry the plaintext's canonical hash), else the
   * canonical bytes of the clear payload.
   */
  receivedHash: sha256Hex,
  receivedAt: TimestampSchema,
};

export const DeliveryAcknowledgedSchema = event(
  'DeliveryAcknowledged',
  1,
  z.object({ ...receiptFields, agencyReference: z.string().min(1).max(100).optional() }).strict(),
);

export const DeliveryRejectedSchema = event(
  'DeliveryRejected',
  1,
  z.object({ ...receiptFields, reasonCode: z.string().min(1).max(50), reason: z.string().max(500) }).strict(),
);

export const DeliveryDeadLetteredSchema = event(
  'DeliveryDeadLettered',
  1,
  z
    .object({
      deliveryId: z.uuid(),
      recipient: DvdvAddressSchema,
      deliveryAttempts: z.number().int().positive(),
      stream: z.string().min(1),
      consumer: z.string().min(1),
    })
    .strict(),
);

const handOffDeadlineFields = {
  deliveryId: z.uuid(),
  recipient: DvdvAddressSchema,
  /**
   * The step that is late: `acknowledge` (the recipient's signed receipt), or `decide` (its
   * decision milestone, bewilligt or abgelehnt, after it acknowledged the hand-off).
   */
  step: z.enum(['acknowledge', 'decide']),
  /** When the step was due (its deadline passed without it). */
  dueAt: TimestampSchema,
  /** The party responsible for the late step (DVDV address). */
  responsible: DvdvAddressSchema,
};

/** A hand-off missed its first deadline (e.g. no receipt within an hour). */
export const HandOffOverdueSchema = event('HandOffOverdue', 1, z.object(handOffDeadlineFields).strict());

/** A hand-off missed its escalation deadline; the responsible party's contact was notified. */
export const HandOffEscalatedSchema = event('HandOffEscalated', 1, z.object(handOffDeadlineFields).strict());

export const LogCheckpointSignedSchema = event(
  'LogCheckpointSigned',
  1,
  z
    .object({
      origin: z.string().min(1).max(200),
      treeSize: z.number().int().nonnegative(),
      /** Merkle root (RFC 9162) in base64. */
      rootHash: z.string().min(1),
      /** C2SP signed-note text of the checkpoint, signature lines included. */
      note: z.string().min(1),
      keyId: z.string().min(1),
    })
    .strict(),
);

export const SecurityEventRecordedSchema = event(
  'SecurityEventRecorded',
  1,
  z
    .object({
      /** Stable code of what was refused, e.g. `signature-invalid`, `role-not-allowed`. */
      code: z.string().min(1).max(60),
      reason: z.string().min(1).max(500),
      /**
       * Who tried, as far as known; never the refused payload's personal data. `verified`
       * says whether the signature was checked (then key id or certificate serial, DVDV,
       * role and subject name are the verifier's) or only claimed by the sender.
       */
      subject: z
        .object({
          dvdv: z.string().max(100).optional(),
          certificateSerial: z.string().max(100).optional(),
          keyId: z.string().max(100).optional(),
          role: z.string().max(40).optional(),
          /** Name of the key, or the certificate's subject organisation. */
          name: z.string().max(200).optional(),
          verified: z.boolean().optional(),
        })
        .strict(),
      messageType: z.string().max(100).optional(),
      refusedMessageId: z.string().max(100).optional(),
    })
    .strict(),
);

/**
 * A signer certificate, kept once in the log (stream `certificates`) so that the kept
 * signatures of submissions and receipts can be checked again by an auditor. Entries refer to
 * it by `fingerprint`. Certificates name offices, never persons.
 */
export const CertificateSeenSchema = event(
  'CertificateSeen',
  1,
  z
    .object({
      /** SHA-256 over the certificate's DER, 64 lowercase hex digits. */
      fingerprint: sha256Hex,
      certificatePem: z.string().min(1).max(20_000),
      serial: z.string().min(1).max(100),
    })
    .strict(),
);

/** A recipient of an erased case's deliveries, with the ids of what it received. */
export const ErasedRecipientSchema = RecipientSchema.extend({ deliveryIds: z.array(z.uuid()).min(1).max(100) }).strict();
export type ErasedRecipient = z.infer<typeof ErasedRecipientSchema>;

/**
 * A birth case's key was destroyed (crypto-shredding): its entries stay in the log as
 * ciphertext nobody can read, and the Merkle tree, which commits to that ciphertext, stays
 * verifiable. No personal data: the keyed case id (the stream's HMAC, not the register key),
 * when, and why.
 */
export const CaseErasedSchema = event(
  'CaseErased',
  1,
  z
    .object({
      /** The case's keyed id (HMAC of the register key under a hub secret). */
      caseId: z.string().regex(/^[0-9a-f]{32}$/),
      erasedAt: TimestampSchema,
      /** Why: retention period elapsed, or a request (with its legal basis). */
      reason: z.string().min(1).max(500),
      /**
       * Who received deliveries of the case, and which (read from the case's stream before its
       * key was destroyed): each is told of the erasure (Art. 19 DSGVO). Ids, offices, no
       * personal data. Absent in entries written before recipients were told.
       */
      recipients: z.array(ErasedRecipientSchema).max(20).optional(),
    })
    .strict(),
);

/**
 * The hub tells one recipient of an erased case's deliveries that the case was erased
 * (stream `erasure-<caseId>`, not sealed: the case's key is gone). The relay publishes it,
 * signed, on the recipient's delivery subject; `noticeId` is derived from case and recipient.
 */
export const ErasureNoticeScheduledSchema = event(
  'ErasureNoticeScheduled',
  1,
  z
    .object({
      noticeId: z.uuid(),
      caseId: z.string().regex(/^[0-9a-f]{32}$/),
      recipient: RecipientSchema,
      /** The deliveries of the case this recipient received (their inbox files are named by them). */
      deliveryIds: z.array(z.uuid()).min(1).max(100),
      erasedAt: TimestampSchema,
      reason: z.string().min(1).max(500),
      legalBasis: z.string().min(1).max(200),
    })
    .strict(),
);

/**
 * A recipient confirmed, with its signed erasure receipt (kept beside the entry), that it
 * removed the erased case's deliveries from its inbox and its state.
 */
export const ErasureConfirmedSchema = event(
  'ErasureConfirmed',
  1,
  z
    .object({
      noticeId: z.uuid(),
      recipient: DvdvAddressSchema,
      deliveryIds: z.array(z.uuid()).min(1).max(100),
      /** When the recipient removed them (its own clock, as signed). */
      erasedAt: TimestampSchema,
    })
    .strict(),
);

/** What an agency reports about a hand-off it received: where the benefit stands. No amounts, no reasons beyond a code. */
export const MilestoneStatusSchema = z.enum(['in-bearbeitung', 'bewilligt', 'abgelehnt', 'ausgezahlt']);
export type MilestoneStatus = z.infer<typeof MilestoneStatusSchema>;
/** An agency's code for a decision (e.g. `B-12`): letters, digits, `.`, `_`, `-`; never free text. */
export const MilestoneCodeSchema = z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'a code of letters, digits, ".", "_" or "-" (at most 32), no free text');

/**
 * A milestone of a hand-off, reported by its recipient with a signed milestone (kept beside
 * the entry, stream `delivery-<id>`, sealed with the case): in Bearbeitung, bewilligt,
 * abgelehnt, ausgezahlt.
 */
export const HandOffMilestoneSchema = event(
  'HandOffMilestone',
  1,
  z
    .object({
      deliveryId: z.uuid(),
      recipient: DvdvAddressSchema,
      /** The agency's id of this report (a report sent again is the same). */
      milestoneId: z.uuid(),
      status: MilestoneStatusSchema,
      code: MilestoneCodeSchema.optional(),
      /** When the agency reported it (its own clock, as signed). */
      reportedAt: TimestampSchema,
    })
    .strict(),
);

/**
 * The Standesamt revoked the tracking code of a birth case (e.g. the code was handed to the
 * wrong person): the old code shows nothing any more, the hub derives a new one.
 */
export const TrackingCodeRevokedSchema = event(
  'TrackingCodeRevoked',
  1,
  z
    .object({
      registerKey: GeburtenregisterKeySchema,
      revokedAt: TimestampSchema,
    })
    .strict(),
);

export const ElfeEventSchema = z.discriminatedUnion('type', [
  BirthRegisteredSchema,
  BirthRegistrationCorrectedSchema,
  ParentalConsentWithdrawnSchema,
  ChildIdNrAssignedSchema,
  DeliveryScheduledSchema,
  DeliveryAcknowledgedSchema,
  DeliveryRejectedSchema,
  DeliveryDeadLetteredSchema,
  HandOffOverdueSchema,
  HandOffEscalatedSchema,
  LogCheckpointSignedSchema,
  SecurityEventRecordedSchema,
  CertificateSeenSchema,
  CaseErasedSchema,
  ErasureNoticeScheduledSchema,
  ErasureConfirmedSchema,
  HandOffMilestoneSchema,
  TrackingCodeRevokedSchema,
]);
export type ElfeEvent = z.infer<typeof ElfeEventSchema>;
export type ElfeEventType = ElfeEvent['type'];
export type EventOf<T extends ElfeEventType> = Extract<ElfeEvent, { type: T }>;

export type BirthRegistered = EventOf<'BirthRegistered'>;
export type BirthRegistrationCorrected = EventOf<'BirthRegistrationCorrected'>;
export type ParentalConsentWithdrawn = EventOf<'ParentalConsentWithdrawn'>;
export type ChildIdNrAssigned = EventOf<'ChildIdNrAssigned'>;
export type DeliveryScheduled = EventOf<'DeliveryScheduled'>;
export type DeliveryAcknowledged = EventOf<'DeliveryAcknowledged'>;
export type DeliveryRejected = EventOf<'DeliveryRejected'>;
export type DeliveryDeadLettered = EventOf<'DeliveryDeadLettered'>;
export type HandOffOverdue = EventOf<'HandOffOverdue'>;
export type HandOffEscalated = EventOf<'HandOffEscalated'>;
export type LogCheckpointSigned = EventOf<'LogCheckpointSigned'>;
export type SecurityEventRecorded = EventOf<'SecurityEventRecorded'>;
export type CertificateSeen = EventOf<'CertificateSeen'>;
export type CaseErased = EventOf<'CaseErased'>;
export type ErasureNoticeScheduled = EventOf<'ErasureNoticeScheduled'>;
export type ErasureConfirmed = EventOf<'ErasureConfirmed'>;
export type HandOffMilestone = EventOf<'HandOffMilestone'>;
export type TrackingCodeRevoked = EventOf<'TrackingCodeRevoked'>;

