import { z } from 'zod';
import { DvdvAddressSchema } from './identifiers/registry.ts';

/** Roles of the parties of the exchange. `cockpit`: the Datenschutzcockpit, which may ask the transparency answer only. */
export const RoleSchema = z.enum(['standesamt', 'meldebehoerde', 'elterngeldstelle', 'familienkasse', 'auditor', 'hub', 'cockpit']);
export type Role = z.infer<typeof RoleSchema>;

export const ProducerSchema = z
  .object({
    dvdv: DvdvAddressSchema,
    name: z.string().min(1).max(200),
    role: RoleSchema,
  })
  .strict();
export type Producer = z.infer<typeof ProducerSchema>;

/** Local date-time with offset, as ISO 8601 (`2026-11-02T08:00:00.000+01:00` or `…Z`). */
export const TimestampSchema = z.iso.datetime({ offset: true });

/**
 * Metadata of every message and event in the exchange. The hub adds
 * `recordedAt` and `position` when it appends the event to the log.
 */
export const EnvelopeSchema = z
  .object({
    messageId: z.uuid(),
    type: z.string().min(1).max(100),
    schemaVersion: z.number().int().positive(),
    occurredAt: TimestampSchema,
    producer: ProducerSchema,
    /** Rechtsgrundlage, e.g. `§ 57 Abs. 1 Nr. 8 PStV`. */
    legalBasis: z.string().min(1).max(200),
    /** Purpose of the processing, in plain words. */
    purpose: z.string().min(1).max(500),
    correlationId: z.uuid(),
    causationId: z.uuid().optional(),
    recordedAt: TimestampSchema.optional(),
    position: z.number().int().nonnegative().optional(),
  })
  .strict();
export type Envelope = z.infer<typeof EnvelopeSchema>;
