// Which Meldebehörde is responsible for a birth case: the Standesamt's municipality (the
// leading digits of its Standesamtsnummer) → its Meldebehörde, one table in the hub's
// configuration, like the routing table. Longest prefix wins, then the default. Only the
// responsible Meldebehörde may assign (or correct) the child's IdNr. Pure data and functions.
import { z } from 'zod';
import { DvdvAddressSchema, type GeburtenregisterKey } from '../../../contracts/index.ts';

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
  const rule = table.rules
    .filter((r) => key.standesamtsnummer.startsWith(r.standesamtPrefix))
    .sort((a, b) => b.standesamtPrefix.length - a.standesamtPrefix.length)[0];
  return rule?.meldebehoerde ?? table.default;
}
