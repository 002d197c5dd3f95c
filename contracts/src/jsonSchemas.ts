import { z } from 'zod';
import { EnvelopeSchema } from './envelope.ts';
import { ElfeEventSchema } from './events/events.ts';
import { ElterngeldDataSetSchema, KindergeldDataSetSchema } from './events/dataSets.ts';
import { BirthRegisteredDataSchema } from './events/birthRegistered.ts';
import { SignedDeliverySchema, SignedErasureNoticeSchema, SignedErasureReceiptSchema, SignedMilestoneSchema, SignedReceiptSchema, SubmissionReplySchema } from './wire/messages.ts';

/** Every contract published as JSON Schema: the open interface agencies integrate against. */
export const publishedSchemas: Readonly<Record<string, z.ZodType>> = {
  'envelope.schema.json': EnvelopeSchema,
  'event.schema.json': ElfeEventSchema,
  'birth-registration.schema.json': BirthRegisteredDataSchema,
  'elterngeld-data-set.schema.json': ElterngeldDataSetSchema,
  'kindergeld-data-set.schema.json': KindergeldDataSetSchema,
  'delivery.schema.json': SignedDeliverySchema,
  'receipt.schema.json': SignedReceiptSchema,
  'erasure-notice.schema.json': SignedErasureNoticeSchema,
  'erasure-receipt.schema.json': SignedErasureReceiptSchema,
  'milestone.schema.json': SignedMilestoneSchema,
  'submission-reply.schema.json': SubmissionReplySchema,
};


/** The JSON Schema documents (draft 2020-12) by file name, as formatted text. */
export function renderJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, schema] of Object.entries(publishedSchemas)) {
    // 'input' describes what a producer must send (before zod's normalising transforms).
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
    const id = `urn:elfe-hub:schema:${file.replace(/\.schema\.json$/, '')}`;
    out[file] = `${JSON.stringify({ $id: id, ...json }, null, 2)}\n`;
  }
  return out;
}
