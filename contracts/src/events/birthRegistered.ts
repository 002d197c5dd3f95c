import { z } from 'zod';
import { NameSchema } from '../names.ts';
import { IdNrSchema } from '../identifiers/idnr.ts';
import { DvdvAddressSchema, GeburtenregisterKeySchema } from '../identifiers/registry.ts';

const isoDate = z.iso.date();
/** Local time without zone, `HH:MM` or `HH:MM:SS`. */
const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'local time HH:MM[:SS]');

export const SexSchema = z.enum(['m', 'w', 'd', 'x']).describe('urn:xoev-de:xinneres:codeliste:geschlecht');

/**
 * Names as XPersonenstand carries them. A part is absent when the message says the person
 * has none (`nichtVorhanden`) or, for a child (`PersonName.Veraenderung`), when it is not
 * given yet; whoever needs a part (a data set, a writer) decides what its absence means.
 */
export const PersonNameSchema = z
  .object({
    firstNames: z.array(NameSchema).min(1).max(20).optional(),
    familyName: NameSchema.optional(),
    birthName: NameSchema.optional(),
  })
  .strict();
export type PersonName = z.infer<typeof PersonNameSchema>;

export const AddressSchema = z
  .object({
    street: z.string().min(1).max(100).optional(),
    houseNumber: z.string().min(1).max(20).optional(),
    postcode: z.string().min(1).max(10).optional(),
    /** `wohnort`: optional in `Anschrift.Inland`. */
    city: z.string().min(1).max(100).optional(),
    country: z.string().min(1).max(100).optional(),
  })
  .strict();
export type Address = z.infer<typeof AddressSchema>;

/** A postal address that can be written as `anschrift.autor` (`wohnort` required). */
export const PostalAddressSchema = AddressSchema.extend({ city: z.string().min(1).max(100) }).strict();
export type PostalAddress = z.infer<typeof PostalAddressSchema>;

export const PlaceSchema = z
  .object({
    /** `ort` of the `Ereignisort`: optional in XPersonenstand. */
    city: z.string().min(1).max(100).optional(),
    street: z.string().min(1).max(100).optional(),
    houseNumber: z.string().min(1).max(20).optional(),
    country: z.string().min(1).max(100).optional(),
  })
  .strict();

export const ParentSchema = z
  .object({
    name: PersonNameSchema,
    /** Optional: 081020 carries none for the second parent, 081021 makes `geburt` optional. */
    birthDate: isoDate.optional(),
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
