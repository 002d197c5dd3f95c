// What a registry office sends besides a registration: a correction (Folgebeurkundung,
// Berichtigung), a consent withdrawal it received, and, from the Meldebehörde, the IdNr
// assignment. Built from the signer's identity, so a party can only write in its own name.
import {
  deterministicUuid,
  formatRegisterKey,
  joinBirth,
  readBirthMessageOf,
  toBirthRegistered,
  fail,
  ok,
  type BirthRegistrationCorrected,
  type ChildIdNrAssigned,
  type GeburtenregisterKey,
  type ParentalConsentWithdrawn,
  type Result,
  type SignerIdentity,
  type XmlCodecError,
} from '../../../contracts/index.ts';

/** The case's correlation id: every message about one birth case carries the same. */
export const caseCorrelationId = (key: GeburtenregisterKey): string => deterministicUuid('elfe-case', formatRegisterKey(key));

const envelope = (identity: SignerIdentity, messageId: string, key: GeburtenregisterKey, legalBasis: string, purpose: string, occurredAt: string) => ({
  messageId,
  schemaVersion: 1 as const,
  occurredAt,
  producer: { dvdv: identity.dvdv, name: identity.name, role: identity.role },
  legalBasis,
  purpose,
  correlationId: caseCorrelationId(key),
});

export interface MessageOptions {
  readonly messageId?: string;
  readonly occurredAt?: string;
}

/** A correction: the registration as it reads now (081020 [+ 081021]) and why it changed. */
export function correctionOf(
  identity: SignerIdentity,
  input: { notice081020: string; supplement081021?: string; registerKey: GeburtenregisterKey; reason: string },
  options: MessageOptions = {},
): Result<BirthRegistrationCorrected, XmlCodecError> {
  const notice = readBirthMessageOf('081020', input.notice081020);
  if (!notice.success) return notice;
  let supplement;
  if (input.supplement081021 !== undefined) {
    const read = readBirthMessageOf('081021', input.supplement081021);
    if (!read.success) return read;
    supplement = read.data;
  }
  const joined = joinBirth(notice.data, supplement, input.registerKey);
  if (!joined.success) return fail(joined.error);
  const messageId = options.messageId ?? crypto.randomUUID();
  const occurredAt = options.occurredAt ?? new Date().toISOString();
  const registration = toBirthRegistered(joined.data, { messageId, occurredAt, producer: { dvdv: identity.dvdv as never, name: identity.name, role: identity.role } }).data;
  return ok({
    ...envelope(identity, messageId, input.registerKey, '§ 21 PStG; § 47 PStG; § 57 Abs. 1 Nr. 8 PStV', 'Mitteilung einer Berichtigung an die bisherigen Empfänger', occurredAt),
    type: 'BirthRegistrationCorrected',
    data: { registerKey: input.registerKey, registration, reason: input.reason },
  } as BirthRegistrationCorrected);
}

/** The parents withdrew their consent to the Elterngeldstelle's notification (for the future). */
export function withdrawalOf(identity: SignerIdentity, registerKey: GeburtenregisterKey, withdrawnAt: string, options: MessageOptions = {}): ParentalConsentWithdrawn {
  const occurredAt = options.occurredAt ?? new Date().toISOString();
  return {
    ...envelope(identity, options.messageId ?? crypto.randomUUID(), registerKey, 'Art. 7 Abs. 3 DSGVO; § 57 Abs. 1 Nr. 8 PStV', 'Widerruf der Einwilligung zur Mitteilung an die Elterngeldstelle', occurredAt),
    type: 'ParentalConsentWithdrawn',
    data: { registerKey, withdrawnAt, recipientRole: 'elterngeldstelle' },
  } as ParentalConsentWithdrawn;
}

/** The Meldebehörde passes on the IdNrs the Bundeszentralamt für Steuern assigned. */
export function idNrAssignmentOf(
  identity: SignerIdentity,
  input: { registerKey: GeburtenregisterKey; childIdNr: string; parent1IdNr?: string; parent2IdNr?: string },
  options: MessageOptions = {},
): ChildIdNrAssigned {
  const occurredAt = options.occurredAt ?? new Date().toISOString();
  return {
    ...envelope(identity, options.messageId ?? crypto.randomUUID(), input.registerKey, '§ 139b AO; § 17 BMG', 'Mitteilung der Identifikationsnummer des Kindes', occurredAt),
    type: 'ChildIdNrAssigned',
    data: {
      registerKey: input.registerKey,
      childIdNr: input.childIdNr,
      ...(input.parent1IdNr ? { parent1IdNr: input.parent1IdNr } : {}),
      ...(input.parent2IdNr ? { parent2IdNr: input.parent2IdNr } : {}),
    },
  } as ChildIdNrAssigned;
}
