// Events of one birth case for routing tests (fictional, valid contracts).
import {
  deterministicUuid,
  ElfeEventSchema,
  type BirthRegisteredData,
  type ElfeEvent,
  type BirthRegistered,
  type BirthRegistrationCorrected,
  type ParentalConsentWithdrawn,
  type ChildIdNrAssigned,
} from '../../../contracts/index.ts';
import { sampleBirthRegistration, idNrFrom } from '../../../contracts/src/testing/sampleBirth.ts';
import { RoutingTableSchema, type RoutingTable } from './routingTable.ts';

export const testRoutingTable: RoutingTable = RoutingTableSchema.parse({
  elterngeldstellen: [
    { dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' },
    { dvdv: 'egs:04011000', name: 'Elterngeldstelle Bremen' },
  ],
  familienkassen: [{ dvdv: 'fka:bund', name: 'Familienkasse der Bundesagentur für Arbeit' }],
  rules: [
    { standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:bund' },
    { standesamtPrefix: '04', elterngeldstelle: 'egs:04011000', familienkasse: 'fka:bund' },
  ],
});

let counter = 0;
const envelope = (type: string, seed: string) => {
  const messageId = deterministicUuid('test-event', type, seed, String(counter++));
  return {
    messageId,
    schemaVersion: 1,
    occurredAt: '2026-11-05T10:00:00.000+01:00',
    producer: { dvdv: 'psw:11007007', name: 'Standesamt Berlin-Mitte', role: type === 'ChildIdNrAssigned' ? 'meldebehoerde' : 'standesamt' },
    legalBasis: '§ 21 PStG',
    purpose: 'test',
    correlationId: messageId,
  };
};

const parse = <T extends ElfeEvent>(event: unknown): T => ElfeEventSchema.parse(event) as T;

export const registered = (data: BirthRegisteredData = sampleBirthRegistration()) => parse<BirthRegistered>({ ...envelope('BirthRegistered', 'r'), type: 'BirthRegistered', data });
export const corrected = (registration: BirthRegisteredData) =>
  parse<BirthRegistrationCorrected>({ ...envelope('BirthRegistrationCorrected', 'c'), type: 'BirthRegistrationCorrected', data: { registerKey: registration.registerKey, registration, reason: 'Vorname berichtigt' } });
export const withdrawn = (registration: BirthRegisteredData = sampleBirthRegistration()) =>
  parse<ParentalConsentWithdrawn>({ ...envelope('ParentalConsentWithdrawn', 'w'), type: 'ParentalConsentWithdrawn', data: { registerKey: registration.registerKey, withdrawnAt: '2026-11-06T10:00:00.000+01:00', recipientRole: 'elterngeldstelle' } });
export const childIdNr = (registration: BirthRegisteredData = sampleBirthRegistration(), id = idNrFrom('4817263940')) =>
  parse<ChildIdNrAssigned>({ ...envelope('ChildIdNrAssigned', 'i'), type: 'ChildIdNrAssigned', data: { registerKey: registration.registerKey, childIdNr: id } });
/** An explicit correction of the child's IdNr by the Meldebehörde, with its reason. */
export const childIdNrCorrected = (registration: BirthRegisteredData = sampleBirthRegistration(), id = idNrFrom('5928374615'), reason = 'IdNr berichtigt (Zahlendreher)') =>
  parse<ChildIdNrAssigned>({ ...envelope('ChildIdNrAssigned', 'ic'), type: 'ChildIdNrAssigned', data: { registerKey: registration.registerKey, childIdNr: id, correction: { reason } } });
