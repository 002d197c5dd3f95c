import { z } from 'zod';
import { IdNrSchema } from '../identifiers/idnr.ts';
import { GeburtenregisterKeySchema } from '../identifiers/registry.ts';
import { AddressSchema, PersonNameSchema, PlaceSchema, SexSchema, type BirthRegisteredData } from './birthRegistered.ts';

/**
 * The closed data set of § 25 BEEG for the Elterngeldstelle: child's date and place of
 * birth, birth name and first names, full names of both parents, plus the consented
 * `auftragsnummer`. Nothing else may reach the Elterngeldstelle.
 */
export const ElterngeldDataSetSchema = z
  .object({
    dataSet: z.literal('beeg-25'),
    registerKey: GeburtenregisterKeySchema,
    auftragsnummer: z.string().min(1).max(100),
    child: z
      .object({
        firstNames: PersonNameSchema.shape.firstNames,
        birthName: PersonNameSchema.shape.familyName,
        birthDate: z.iso.date(),
        placeOfBirth: PlaceSchema.pick({ city: true, country: true }),
      })
      .strict(),
    parent1: PersonNameSchema,
    parent2: PersonNameSchema.optional(),
  })
  .strict()
  .describe('Data set for the Elterngeldstelle (§ 25 BEEG, § 57 Abs. 1 Nr. 8 PStV)');
export type ElterngeldDataSet = z.infer<typeof ElterngeldDataSetSchema>;

const KindergeldPersonSchema = z
  .object({
    idnr: IdNrSchema,
    name: PersonNameSchema,
    birthDate: z.iso.date(),
    sex: SexSchema.optional(),
    address: AddressSchema.optional(),
  })
  .strict();

/**
 * The Kindergeld data set for the Familienkasse (modelled on KiGAbV § 3): the child and
 * the entitled person, each with IdNr (§ 62 Abs. 1 EStG), names, birth date, sex, address.
 */
export const KindergeldDataSetSchema = z
  .object({
    dataSet: z.literal('kindergeld'),
    registerKey: GeburtenregisterKeySchema,
    child: KindergeldPersonSchema.extend({
      parents: z.array(PersonNameSchema).min(1).max(2),
    }).strict(),
    entitledPerson: KindergeldPersonSchema,
  })
  .strict()
  .describe('Kindergeld data set for the Familienkasse (§ 62 Abs. 1 EStG; modelled on KiGAbV § 3)');
export type KindergeldDataSet = z.infer<typeof KindergeldDataSetSchema>;

export const DeliveryPayloadSchema = z.discriminatedUnion('dataSet', [ElterngeldDataSetSchema, KindergeldDataSetSchema]);
export type DeliveryPayload = z.infer<typeof DeliveryPayloadSchema>;

/**
 * The § 25 BEEG data set of a registration, or why there is none (no consent, no
 * auftragsnummer, no child name yet). Parts the messages did not carry (a place name, a
 * first name that does not exist) stay absent: 131011 takes them as optional.
 */
export type ElterngeldGap = 'no-consent' | 'no-auftragsnummer' | 'no-child-name';

/** Why a registration has no § 25 BEEG data set yet, if it lacks one: the checks of `toElterngeldDataSet` without building it. */
export function elterngeldDataSetGap(registration: BirthRegisteredData): ElterngeldGap | undefined {
  if (!registration.consent.elterngeldstelle) return 'no-consent';
  if (!registration.consent.auftragsnummer) return 'no-auftragsnummer';
  if (!registration.child.name) return 'no-child-name';
  return undefined;
}

export function toElterngeldDataSet(
  registration: BirthRegisteredData,
): { readonly success: true; readonly data: ElterngeldDataSet } | { readonly success: false; readonly reason: ElterngeldGap } {
  const gap = elterngeldDataSetGap(registration);
  if (gap) return { success: false, reason: gap };
  const auftragsnummer = registration.consent.auftragsnummer!;
  const childName = registration.child.name!;
  const place = registration.child.placeOfBirth;
  const birthName = childName.birthName ?? childName.familyName;
  const data: ElterngeldDataSet = {
    dataSet: 'beeg-25',
    registerKey: registration.registerKey,
    auftragsnummer,
    child: {
      ...(childName.firstNames ? { firstNames: childName.firstNames } : {}),
      ...(birthName ? { birthName } : {}),
      birthDate: registration.child.birth.date,
      placeOfBirth: { ...(place.city ? { city: place.city } : {}), ...(place.country ? { country: place.country } : {}) },
    },
    parent1: registration.parent1.name,
    ...(registration.parent2 ? { parent2: registration.parent2.name } : {}),
  };
  return { success: true, data: ElterngeldDataSetSchema.parse(data) };
}

/**
 * The Kindergeld data set, once the child's IdNr and the entitled parent's IdNr are known.
 * `entitled` names the parent who is the entitled person (parent1 unless configured).
 */
export type KindergeldGap = 'no-child-idnr' | 'no-entitled-idnr' | 'no-child-name' | 'no-entitled-parent' | 'no-entitled-birth-date';
type KnownIdNrs = { readonly childIdNr?: string; readonly parent1IdNr?: string; readonly parent2IdNr?: string };

/** Why a registration has no Kindergeld data set yet, if it lacks one: the checks of `toKindergeldDataSet` without building it. */
export function kindergeldDataSetGap(registration: BirthRegisteredData, ids: KnownIdNrs, entitled: 'parent1' | 'parent2' = 'parent1'): KindergeldGap | undefined {
  if (!(ids.childIdNr ?? registration.child.idnr)) return 'no-child-idnr';
  const parent = entitled === 'parent1' ? registration.parent1 : registration.parent2;
  if (!parent) return 'no-entitled-parent';
  if (!((entitled === 'parent1' ? ids.parent1IdNr : ids.parent2IdNr) ?? parent.idnr)) return 'no-entitled-idnr';
  if (!registration.child.name) return 'no-child-name';
  // KiGAbV § 3 needs the entitled person's birth date; XPersonenstand may not carry it.
  if (!parent.birthDate) return 'no-entitled-birth-date';
  return undefined;
}

export function toKindergeldDataSet(
  registration: BirthRegisteredData,
  ids: KnownIdNrs,
  entitled: 'parent1' | 'parent2' = 'parent1',
): { readonly success: true; readonly data: KindergeldDataSet } | { readonly success: false; readonly reason: KindergeldGap } {
  const gap = kindergeldDataSetGap(registration, ids, entitled);
  if (gap) return { success: false, reason: gap };
  const childIdNr = (ids.childIdNr ?? registration.child.idnr)!;
  const parent = (entitled === 'parent1' ? registration.parent1 : registration.parent2)!;
  const entitledIdNr = ((entitled === 'parent1' ? ids.parent1IdNr : ids.parent2IdNr) ?? parent.idnr)!;
  const childName = registration.child.name!;
  const data = {
    dataSet: 'kindergeld' as const,
    registerKey: registration.registerKey,
    child: {
      idnr: childIdNr,
      name: childName,
      birthDate: registration.child.birth.date,
      sex: registration.child.sex,
      ...(registration.parent1.address ? { address: registration.parent1.address } : {}),
      parents: [registration.parent1.name, ...(registration.parent2 ? [registration.parent2.name] : [])],
    },
    entitledPerson: {
      idnr: entitledIdNr,
      name: parent.name,
      birthDate: parent.birthDate,
      ...(parent.sex ? { sex: parent.sex } : {}),
      ...(parent.address ? { address: parent.address } : {}),
    },
  };
  return { success: true, data: KindergeldDataSetSchema.parse(data) };
}
