import { z } from 'zod';
import type { Role } from '../envelope.ts';
import {
  BirthRegisteredSchema,
  BirthRegistrationCorrectedSchema,
  ChildIdNrAssignedSchema,
  DeliveryScheduledSchema,
  ParentalConsentWithdrawnSchema,
  RecipientSchema,
} from '../events/events.ts';
import { DvdvAddressSchema, GeburtenregisterKeySchema } from '../identifiers/registry.ts';
import { TimestampSchema } from '../envelope.ts';
import { DeliveryPayloadSchema } from '../events/dataSets.ts';
import { signedSchema } from './signing.ts';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** What producers (Standesamt, Meldebehörde) submit to the hub's ingress. */
export const SubmissionSchema = z.discriminatedUnion('type', [
  BirthRegisteredSchema,
  BirthRegistrationCorrectedSchema,
  ParentalConsentWithdrawnSchema,
  ChildIdNrAssignedSchema,
]);
export type Submission = z.infer<typeof SubmissionSchema>;
export const SignedSubmissionSchema = signedSchema(z.unknown());

/** Which role may submit which event type. */
export const submissionPermissions: Readonly<Record<Submission['type'], readonly Role[]>> = {
  BirthRegistered: ['standesamt'],
  BirthRegistrationCorrected: ['standesamt'],
  ParentalConsentWithdrawn: ['standesamt'],
  ChildIdNrAssigned: ['meldebehoerde', 'standesamt'],
};

export const SubmissionErrorCodeSchema = z.enum([
  'malformed',
  'too-large',
  'signature-malformed',
  'unknown-signer',
  'signature-invalid',
  'certificate-invalid',
  'certificate-revoked',
  'certificate-expired',
  'role-not-allowed',
  'producer-mismatch',
  'invalid-contract',
  'conflict',
  'unavailable',
]);
export type SubmissionErrorCode = z.infer<typeof SubmissionErrorCodeSchema>;

/** The hub's answer to a submission. */
export const SubmissionReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), messageId: z.uuid(), position: z.number().int().nonnegative(), duplicate: z.boolean() }).strict(),
  z
    .object({
      ok: z.literal(false),
      messageId: z.string().max(100).optional(),
      error: z.object({ code: SubmissionErrorCodeSchema, message: z.string().max(1000), path: z.string().max(500).optional() }).strict(),
    })
    .strict(),
]);
export type SubmissionReply = z.infer<typeof SubmissionReplySchema>;

/** A delivery as the hub publishes it to an agency (signed by the hub). */
export const DeliverySchema = z
  .object({
    deliveryId: z.uuid(),
    registerKey: GeburtenregisterKeySchema,
    recipient: RecipientSchema,
    kind: DeliveryScheduledSchema.shape.data.shape.kind,
    legalBasis: z.string().min(1).max(200),
    purpose: z.string().min(1).max(500),
    payload: DeliveryPayloadSchema.optional(),
    /** The payload as a JWE for the recipient's certificate key, when payloads are confidential. */
    payloadJwe: DeliveryScheduledSchema.shape.data.shape.payloadJwe,
    payloadHash: sha256Hex,
    /** Log position of the `DeliveryScheduled` entry. */
    logPosition: z.number().int().nonnegative(),
    scheduledAt: TimestampSchema,
  })
  .strict()
  .refine((d) => (d.payload === undefined) !== (d.payloadJwe === undefined), 'exactly one of payload and payloadJwe');
export type Delivery = z.infer<typeof DeliverySchema>;
export const SignedDeliverySchema = signedSchema(DeliverySchema);

/** An agency's receipt for a delivery (signed by the agency). */
export const ReceiptSchema = z
  .object({
    deliveryId: z.uuid(),
    recipient: DvdvAddressSchema,
    status: z.enum(['acknowledged', 'rejected']),
    /** SHA-256 of the canonical bytes of exactly the payload received. */
    receivedHash: sha256Hex,
    receivedAt: TimestampSchema,
    reasonCode: z.string().min(1).max(50).optional(),
    reason: z.string().max(500).optional(),
    agencyReference: z.string().min(1).max(100).optional(),
  })
  .strict();
export type Receipt = z.infer<typeof ReceiptSchema>;
export const SignedReceiptSchema = signedSchema(ReceiptSchema);
