// Erasure through the API: the hub's operator (the hub's own certificate, role `hub` and the
// hub's DVDV address) erases a birth case on the running hub — the same `CaseErased` entry and
// the same destroyed key as `elfe erase` on a stopped data directory. An erased case answers
// `410 Gone` ("erased on …, reason …") to those who may know it existed: operators and
// auditors, and the Standesamt that owns its register key; to everyone else it is unknown (404).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hubIdentity, parseRegisterKey, type GeburtenregisterKey } from '../../../contracts/index.ts';
import type { ErasedRow, ProjectionStore } from '../readside/projectionStore.ts';
import { seesAll, type Caller } from './access.ts';

export interface ErasureOptions {
  /** The case's stream (keyed case id) of a register key. */
  caseStream(registerKey: GeburtenregisterKey): string;
  /** Logs `CaseErased` and destroys the case's key; undefined when the case holds no key. */
  erase(stream: string, reason: string): Promise<{ caseId: string; position: number } | undefined>;
}

/** A refusal the API turns into a problem answer. */
export interface Problem {
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
}

const told = (row: ErasedRow) =>
  row.recipients.length === 0 ? '' : `; recipients told: ${row.recipients.map((r) => `${r.recipient} ${r.confirmedAt ? `confirmed on ${r.confirmedAt}` : 'not confirmed yet'}`).join(', ')}`;
const gone = (row: ErasedRow): Problem => ({ status: 410, title: 'erased', detail: `this birth case was erased on ${row.erasedAt}; reason: ${row.reason}${told(row)}` });

/**
 * The 410 answer for an id of an erased case (the case id, an entry's or delivery's id, or its
 * register key through the keyed case id), when the caller may know the case existed.
 */
export function erasedProblem(store: ProjectionStore, id: string, caller: Caller, erasure: ErasureOptions | undefined): Problem | undefined {
  const row = store.lookUp(id);
  let erased: ErasedRow | undefined;
  let owner: string | undefined;
  if (row?.kind === 'erased' && row.caseId) erased = store.erasedCase(row.caseId);
  else if (!row) {
    const key = parseRegisterKey(id);
    if (key.success && erasure) {
      erased = store.erasedCase(erasure.caseStream(key.data));
      owner = key.data.standesamtsnummer;
    } else erased = store.erasedCase(id);
  }
  if (!erased) return undefined;
  if (seesAll(caller) || (owner !== undefined && caller.role === 'standesamt' && caller.dvdv === `psw:${owner}`)) return gone(erased);
  return undefined;
}

const ErasureRequestSchema = z.object({ registerKey: z.string().min(1).max(100), reason: z.string().min(1).max(500).optional() }).strict();
const ErasureAnswerSchema = z.object({ erased: z.literal(true), caseId: z.string(), position: z.number().int(), registerKey: z.string() });

export async function erasureRoutes(app: FastifyInstance, options: { store: ProjectionStore; erasure: ErasureOptions; errors: Record<number, z.ZodType>; refuse: (problem: Problem) => never }): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/erasures',
    { schema: { summary: "Erase a birth case on the running hub (the hub operator's certificate only): CaseErased is logged, the case key destroyed, the recipients told", body: ErasureRequestSchema, response: { 200: ErasureAnswerSchema, ...options.errors } } },
    async (request) => {
      const caller = request.caller!;
      if (caller.role !== 'hub' || caller.dvdv !== hubIdentity.dvdv) options.refuse({ status: 403, title: 'not allowed for this role', detail: "only the hub's operator (the hub's own certificate) erases cases" });
      const key = parseRegisterKey(request.body.registerKey);
      if (!key.success) options.refuse({ status: 400, title: 'invalid register key', detail: key.error.message });
      const stream = options.erasure.caseStream(key.data);
      const before = options.store.erasedCase(stream);
      if (before) options.refuse(gone(before));
      const done = await options.erasure.erase(stream, request.body.reason ?? 'Art. 17 DSGVO: erasure on request');
      if (!done) options.refuse({ status: 404, title: 'unknown case', detail: 'no birth case with this register key holds a key (never registered, or erased before)' });
      request.log.info({ event: 'case.erased', caseId: done.caseId, position: done.position }, 'birth case erased on request');
      return { erased: true as const, caseId: done.caseId, position: done.position, registerKey: request.body.registerKey };
    },
  );
}
