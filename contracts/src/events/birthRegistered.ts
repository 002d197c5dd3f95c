import { z } from 'zod';
import { NameSchema } from '../names.ts';
import { IdNrSchema } from '../identifiers/idnr.ts';
import { DvdvAddressSchema, GeburtenregisterKeySchema } from '../identifiers/registry.ts';

const isoDate = z.iso.date();
/** Local time without zone, `HH:MM` or `HH:MM:SS`. */
const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'local time HH:MM[:SS]');

export const SexSchema = z.enum(['m', 'w', 'd', 'x']).describe('urn:xoev-de:xinneres:codeliste:geschlecht');

export const PersonNameSchema = z
  .object({
    firstNames: z.array(NameSchema).min(1).max(20),
    familyName: NameSchema,
    birthName: NameSchema.optional(),
  })
  .strict();
export type PersonName = z.infer<typeof PersonNameSchema>;

export const AddressSchema = z
  .object({
    street: z.string().min(1).max(100).optional(),
    houseNumber: z.string().min(1).max(20).optional(),
    postcode: z.string().min(1).max(10).optional(),
    city: z.string().min(1).max(100),
    country: z.string().min(1).max(100).optional(),
  })
  .strict();
export type Address = z.infer<typeof AddressSchema>;

export const PlaceSchema = z
  .object({
    city: z.string().min(1).max(100),
    street: z.string().min(1).max(100).optional(),
    houseNumber: z.string().min(1).max(20).optional(),
    country: z.string().min(1).max(100).optional(),
  })
  .strict();

export const ParentSchema = z
  .object({
    name: PersonNameSchema,
    birthDate: isoDate,
    sex: SexSchema.optional(),
    address: AddressSchema.optional(),
    idnr: IdNrSchema.optional(),
  })
  .strict();
export type Parent = z.infer<typeof ParentSchema>;

export const ChildSchema = z
  .object({
    /** Absent only when the parents' supplementary data (081021) has not been received. */
    name: PersonNameSchema.optional(),
    sex: SexSchema,
    birth: z
      .object({
        date: isoDate,
        time: localTime.optional(),
        /** Whether the time of birth is exact (`exakt`). */
        exact: z.boolean(),
      })
      .strict(),
    placeOfBirth: PlaceSchema,
    idnr: IdNrSchema.optional(),
  })
  .strict();
export type Child = z.infer<typeof ChildSchema>;

export const ConsentSchema = z
  .object({
    /** `zustimmungElterngeldstelle`: true only when the parents consented; absent in XML means no. */
    elterngeldstelle: z.boolean(),
    /** Correlates the delivery with the Elterngeld application. */
    auftragsnummer: z.string().min(1).max(100).optional(),
    /** The Elterngeldstelle the parents named, if any. */
    zustaendigeElterngeldstelle: DvdvAddressSchema.optional(),
  })
  .strict();

export const BirthRegisteredDataSchema = z
  .object({
    registerKey: GeburtenregisterKeySchema,
    child: ChildSchema,
    parent1: ParentSchema,
    parent2: ParentSchema.optional(),
    consent: ConsentSchema,
    /** `zuordnungGeburtsanzeige` that joined 081020 and 081021. */
    zuordnungGeburtsanzeige: z.string().min(1).max(100).optional(),
    /** `nachrichtenUUID`s of the XPersonenstand messages this registration was built from. */
    sourceMessageIds: z.array(z.guid()).min(1).max(10),
  })
  .strict();
export type BirthRegisteredData = z.infer<typeof BirthRegisteredDataSchema>;
