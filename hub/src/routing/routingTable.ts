// Which Elterngeldstelle and which Familienkasse are responsible for a birth: a table from
// the configuration, resolved by the Standesamtsnummer (longest prefix) or the postcode of
// the first parent, with a default. Pure data and functions.
import { z } from 'zod';
import { DvdvAddressSchema, type BirthRegisteredData, type Recipient } from '../../../contracts/index.ts';

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
  return table.rules
    .filter((r) => r.standesamtPrefix !== undefined && standesamtsnummer.startsWith(r.standesamtPrefix))
    .sort((a, b) => b.standesamtPrefix!.length - a.standesamtPrefix!.length)[0];
}

/** Longest matching Standesamtsnummer prefix wins, then the postcode rule, then the default. */
export function resolveRecipients(table: RoutingTable, registration: BirthRegisteredData): ResolvedRecipients {
  const nummer = registration.registerKey.standesamtsnummer;
  const postcode = registration.parent1.address?.postcode ?? '';
  const byStandesamt = standesamtRule(table, nummer);
  const byPostcode = table.rules
    .filter((r) => r.postcodePrefix !== undefined && postcode.startsWith(r.postcodePrefix))
    .sort((a, b) => b.postcodePrefix!.length - a.postcodePrefix!.length)[0];
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
