// Who is responsible for a birth, from two tables of the hub's configuration, both resolved by
// the longest matching prefix, then a default. Pure data and functions.
// - Routing: which Elterngeldstelle and which Familienkasse receive the case, by the
//   Standesamtsnummer or the postcode of the first parent.
// - Meldebehörden: which Meldebehörde is responsible, by the Standesamt's municipality (the
//   leading digits of its Standesamtsnummer). Only the responsible Meldebehörde may assign (or
//   correct) the child's IdNr.
import { z } from 'zod';
import { DvdvAddressSchema, type BirthRegisteredData, type GeburtenregisterKey, type Recipient } from '../../../contracts/index.ts';

/** The entry whose prefix (absent: none) is the longest one `value` starts with. */
function longestPrefix<T>(entries: readonly T[], prefixOf: (entry: T) => string | undefined, value: string): T | undefined {
  let best: T | undefined;
  let bestLength = -1;
  for (const entry of entries) {
    const prefix = prefixOf(entry);
    if (prefix !== undefined && prefix.length > bestLength && value.startsWith(prefix)) {
      best = entry;
      bestLength = prefix.length;
    }
  }
  return best;
}

const AgencySchema = z.object({ dvdv: DvdvAddressSchema, name: z.string().min(1).max(200) }).strict();

const RuleSchema = z
  .object({
    /** Prefix of the Standesamtsnummer (8 digits), e.g. `04` for Bremen. */
    standesamtPrefix: z.string().regex(/^\d{0,8}$/).optional(),
    /** Prefix of the first parent's postcode. */
    postcodePrefix: z.string().regex(/^\d{1,5}$/).optional(),
    elterngeldstelle: DvdvAddressSchema,
    familienkasse: DvdvAddressSchema,
  })
  .strict()
  .refine((r) => r.standesamtPrefix !== undefined || r.postcodePrefix !== undefined, 'a rule needs standesamtPrefix or postcodePrefix');

export const RoutingTableSchema = z
  .object({
    elterngeldstellen: z.array(AgencySchema).min(1),
    familienkassen: z.array(AgencySchema).min(1),
    rules: z.array(RuleSchema),
    default: z.object({ elterngeldstelle: DvdvAddressSchema, familienkasse: DvdvAddressSchema }).strict().optional(),
  })
  .strict()
  .superRefine((table, ctx) => {
    const egs = new Set(table.elterngeldstellen.map((a) => a.dvdv));
    const fk = new Set(table.familienkassen.map((a) => a.dvdv));
    const all = [...table.elterngeldstellen, ...table.familienkassen].map((a) => a.dvdv);
    const dup = all.find((d, i) => all.indexOf(d) !== i);
    if (dup) ctx.addIssue({ code: 'custom', message: `DVDV address ${dup} appears twice`, path: ['elterngeldstellen'] });
    const check = (dvdv: string, known: Set<string>, path: (string | number)[]) => {
      if (!known.has(dvdv)) ctx.addIssue({ code: 'custom', message: `unknown recipient ${dvdv}`, path });
    };
    table.rules.forEach((r, i) => {
      check(r.elterngeldstelle, egs, ['rules', i, 'elterngeldstelle']);
      check(r.familienkasse, fk, ['rules', i, 'familienkasse']);
    });
    if (table.default) {
      check(table.default.elterngeldstelle, egs, ['default', 'elterngeldstelle']);
      check(table.default.familienkasse, fk, ['default', 'familienkasse']);
    }
  });
export type RoutingTable = z.infer<typeof RoutingTableSchema>;

export interface ResolvedRecipients {
  readonly elterngeldstelle?: Recipient;
  readonly familienkasse?: Recipient;
}

export type RoutingRule = RoutingTable['rules'][number];

/** The rule of a Standesamtsnummer: the longest matching `standesamtPrefix`, if any. */
export function standesamtRule(table: RoutingTable, standesamtsnummer: string): RoutingRule | undefined {
  return longestPrefix(table.rules, (r) => r.standesamtPrefix, standesamtsnummer);
}

/** Longest matching Standesamtsnummer prefix wins, then the postcode rule, then the default. */
export function resolveRecipients(table: RoutingTable, registration: BirthRegisteredData): ResolvedRecipients {
  const nummer = registration.registerKey.standesamtsnummer;
  const postcode = registration.parent1.address?.postcode ?? '';
  const byStandesamt = standesamtRule(table, nummer);
  const byPostcode = longestPrefix(table.rules, (r) => r.postcodePrefix, postcode);
  const rule = byStandesamt ?? byPostcode ?? table.default;
  const agency = (list: RoutingTable['elterngeldstellen'], dvdv: string | undefined) => list.find((a) => a.dvdv === dvdv);
  // The Elterngeldstelle the parents named wins when the table knows it.
  const named = agency(table.elterngeldstellen, registration.consent.zustaendigeElterngeldstelle);
  const egs = named ?? agency(table.elterngeldstellen, rule?.elterngeldstelle);
  const fk = agency(table.familienkassen, rule?.familienkasse);
  return {
    ...(egs ? { elterngeldstelle: { role: 'elterngeldstelle' as const, dvdv: egs.dvdv, name: egs.name } } : {}),
    ...(fk ? { familienkasse: { role: 'familienkasse' as const, dvdv: fk.dvdv, name: fk.name } } : {}),
  };
}

const MeldebehoerdeAddressSchema = DvdvAddressSchema.refine((a) => a.startsWith('mbh:'), 'a Meldebehörde address starts with mbh:');

export const MeldebehoerdeTableSchema = z
  .object({
    /** `standesamtPrefix`: leading digits of the Standesamtsnummer (the municipality), e.g. `11` for Berlin. */
    rules: z.array(z.object({ standesamtPrefix: z.string().regex(/^\d{1,8}$/), meldebehoerde: MeldebehoerdeAddressSchema }).strict()),
    /** The Meldebehörde of every Standesamt no rule names (absent: such cases get no IdNr at all). */
    default: MeldebehoerdeAddressSchema.optional(),
  })
  .strict()
  .superRefine((table, ctx) => {
    const prefixes = table.rules.map((r) => r.standesamtPrefix);
    const dup = prefixes.find((p, i) => prefixes.indexOf(p) !== i);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `standesamtPrefix ${dup} appears twice`, path: ['rules'] });
    if (table.rules.length === 0 && table.default === undefined) ctx.addIssue({ code: 'custom', message: 'no rule and no default: no Meldebehörde could ever assign an IdNr', path: ['default'] });
  });
export type MeldebehoerdeTable = z.infer<typeof MeldebehoerdeTableSchema>;

/** The single Meldebehörde that `elfe exchange init` lays out: responsible for every case. */
export const defaultMeldebehoerdeTable: MeldebehoerdeTable = MeldebehoerdeTableSchema.parse({ rules: [], default: 'mbh:demo' });

/** The DVDV address of the Meldebehörde responsible for the case, if any. */
export function responsibleMeldebehoerde(table: MeldebehoerdeTable, key: GeburtenregisterKey): string | undefined {
  return longestPrefix(table.rules, (r) => r.standesamtPrefix, key.standesamtsnummer)?.meldebehoerde ?? table.default;
}
