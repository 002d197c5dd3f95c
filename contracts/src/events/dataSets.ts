import { z } from 'zod';
import { IdNrSchema } from '../identifiers/idnr.ts';
import { GeburtenregisterKeySchema } from '../identifiers/registry.ts';
import { AddressSchema, PersonNameSchema, PlaceSchema, SexSchema } from './birthRegistered.ts';

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
