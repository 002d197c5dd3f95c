// The API's zod schemas: request validation, response serialisation and the OpenAPI document
// all come from these.
import { z } from 'zod';
import { IdNrSchema } from '../../../contracts/index.ts';

export const ProblemSchema = z
  .object({ type: z.string(), title: z.string(), status: z.number().int(), detail: z.string().optional(), instance: z.string().optional(), requestId: z.string() })
  .describe('RFC 9457 problem details');

const StepSchema = z.object({ step: z.string(), at: z.string() });
export const RecipientStatusSchema = z.object({
  role: z.enum(['elterngeldstelle', 'familienkasse']),
  recipient: z.string().optional(),
  recipientName: z.string().optional(),
  deliveryId: z.string().optional(),
  kind: z.enum(['initial', 'correction']).optional(),
  state: z.enum(['registered', 'scheduled', 'delivered', 'acknowledged', 'rejected', 'dead-letter', 'held-back']),
  overdue: z.boolean(),
  escalated: z.boolean(),
  why: z.string(),
  nextParty: z.string().optional(),
  steps: z.array(StepSchema),
});
export const CaseStatusSchema = z.object({
  caseId: z.string(),
  registerKey: z.string(),
  standesamt: z.string(),
  registeredAt: z.string(),
  erased: z.boolean(),
  recipients: z.array(RecipientStatusSchema),
});

export const LookUpSchema = z.object({
  id: z.string(),
  kind: z.string(),
  what: z.string(),
  where: z.string(),
  logPosition: z.number().int(),
  caseId: z.string().optional(),
  deliveryId: z.string().optional(),
  standesamt: z.string().optional(),
  recipient: z.string().optional(),
  links: z.array(z.object({ rel: z.string(), href: z.string() })),
});

export const TransparencyRequestSchema = z.object({ idnr: IdNrSchema }).strict();
export const TransparencySchema = z.object({
  from: z.string(),
  to: z.string(),
  erasedCases: z.number().int(),
  exchanges: z.array(
    z.object({ recipient: z.string(), recipientName: z.string(), sender: z.string(), at: z.string(), data: z.string(), legalBasis: z.string(), purpose: z.string(), state: z.string() }),
  ),
});

export const CheckpointSchema = z.object({ treeSize: z.number().int(), note: z.string().describe('C2SP signed note with the hub signature and witness cosignatures'), logPosition: z.number().int() });
export const InclusionProofSchema = z.object({ kind: z.literal('elfe-inclusion-proof'), leafIndex: z.number().int(), treeSize: z.number().int(), path: z.array(z.string()), checkpoint: z.string(), entry: z.record(z.string(), z.unknown()) });
export const ConsistencyProofSchema = z.object({ kind: z.literal('elfe-consistency-proof'), from: z.string(), to: z.string(), path: z.array(z.string()) });
export const SummarySchema = z.object({
  counts: z.object({ cases: z.number(), handOffs: z.number(), overdue: z.number(), escalated: z.number(), deadLetters: z.number() }),
  birthsPerDay: z.array(z.object({ day: z.string(), births: z.number() })),
  handOffsByState: z.array(z.object({ state: z.string(), count: z.number() })),
  late: z.array(RecipientStatusSchema.extend({ caseId: z.string() })),
});
