// What a registry office sends besides a registration: a correction (Folgebeurkundung,
// Berichtigung), a consent withdrawal it received, and, from the Meldebehörde, the IdNr
// assignment. Built from the signer's identity, so a party can only write in its own name.
// Message ids derive from what is said (register key and content), so running a command
// again after a crash or an unclear answer sends the same submission, which the hub answers
// as a duplicate, and the same bytes under another register key are another submission.
import {
  canonicalHash,
  deterministicUuid,
  formatRegisterKey,
  futureTime,
  XmlCodecError,
  joinBirth,
  readBirthMessageOf,
  toBirthRegistered,
  fail,
  ok,
  type BirthRegistered,
  type BirthRegisteredData,
  type BirthRegistrationCorrected,
  type ChildIdNrAssigned,
  type GeburtenregisterKey,
  type ParentalConsentWithdrawn,
  type TrackingCodeRevoked,
  type Result,
  type SignerIdentity,
  type Submission,
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

/** The message id of what is said: the same content about the same birth case is the same submission. */
export const contentMessageId = (type: Submission['type'], content: unknown): string => deterministicUuid('elfe-submission', type, canonicalHash(content));

/** 081020 [+ 081021] joined with the register key assigned at Beurkundung. */
export function joinedRegistration(
  input: { notice081020: string; supplement081021?: string; registerKey: GeburtenregisterKey },
  clock: { now?: Date; clockSkewMs?: number } = {},
): Result<BirthRegisteredData, XmlCodecError> {
  const notice = readBirthMessageOf('081020', input.notice081020);
  if (!notice.success) return notice;
  let supplement;
  if (input.supplement081021 !== undefined) {
    const read = readBirthMessageOf('081021', input.supplement081021);
    if (!read.success) return read;
    supplement = read.data;
  }
  // A message written in the future is refused with the code the hub uses for dates.
  for (const [kind, message] of [['081020', notice.data], ['081021', supplement]] as const) {
    if (!message) continue;
    const future = futureTime(message.header.createdAt, 'erstellungszeitpunkt', clock.now ?? new Date(), clock.clockSkewMs);
    if (future) return fail(new XmlCodecError('date-in-future', future.message, `/xp:portal2StA.Geburt.${kind}/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt`));
  }
  return joinBirth(notice.data, supplement, input.registerKey);
}

/** The registration at Beurkundung, signed in the signer's own name. */
export function registrationOf(
  identity: SignerIdentity,
  input: { notice081020: string; supplement081021?: string; registerKey: GeburtenregisterKey },
  options: MessageOptions = {},
): Result<BirthRegistered, XmlCodecError> {
  const joined = joinedRegistration(input);
  if (!joined.success) return joined;
  return ok(
    toBirthRegistered(joined.data, {
      messageId: options.messageId ?? contentMessageId('BirthRegistered', joined.data),
      occurredAt: options.occurredAt ?? new Date().toISOString(),
      producer: { dvdv: identity.dvdv as BirthRegistered['producer']['dvdv'], name: identity.name, role: identity.role },
    }),
  );
}

/** A correction: the registration as it reads now (081020 [+ 081021]) and why it changed. */
export function correctionOf(
  identity: SignerIdentity,
  input: { notice081020: string; supplement081021?: string; registerKey: GeburtenregisterKey; reason: string },
  options: MessageOptions = {},
): Result<BirthRegistrationCorrected, XmlCodecError> {
  const joined = joinedRegistration(input);
  if (!joined.success) return fail(joined.error);
  const messageId = options.messageId ?? contentMessageId('BirthRegistrationCorrected', { registration: joined.data, reason: input.reason });
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
    // One withdrawal per case: sent again, it is the same fact.
    ...envelope(identity, options.messageId ?? contentMessageId('ParentalConsentWithdrawn', { registerKey }), registerKey, 'Art. 7 Abs. 3 DSGVO; § 57 Abs. 1 Nr. 8 PStV', 'Widerruf der Einwilligung zur Mitteilung an die Elterngeldstelle', occurredAt),
    type: 'ParentalConsentWithdrawn',
    data: { registerKey, withdrawnAt, recipientRole: 'elterngeldstelle' },
  } as ParentalConsentWithdrawn;
}

/** The Meldebehörde passes on the IdNrs the Bundeszentralamt für Steuern assigned. */
export function idNrAssignmentOf(
  identity: SignerIdentity,
  input: { registerKey: GeburtenregisterKey; childIdNr: string; parent1IdNr?: string; parent2IdNr?: string; correctionReason?: string },
  options: MessageOptions = {},
): ChildIdNrAssigned {
  const occurredAt = options.occurredAt ?? new Date().toISOString();
  const ids = { childIdNr: input.childIdNr, parent1IdNr: input.parent1IdNr ?? null, parent2IdNr: input.parent2IdNr ?? null, correction: input.correctionReason ?? null };
  return {
    ...envelope(identity, options.messageId ?? contentMessageId('ChildIdNrAssigned', { registerKey: input.registerKey, ...ids }), input.registerKey, '§ 139b AO; § 17 BMG', 'Mitteilung der Identifikationsnummer des Kindes', occurredAt),
    type: 'ChildIdNrAssigned',
    data: {
      registerKey: input.registerKey,
      childIdNr: input.childIdNr,
      ...(input.parent1IdNr ? { parent1IdNr: input.parent1IdNr } : {}),
      ...(input.parent2IdNr ? { parent2IdNr: input.parent2IdNr } : {}),
      // An explicit correction of IdNrs assigned before (the Familienkasse gets them again as a correction).
      ...(input.correctionReason ? { correction: { reason: input.correctionReason } } : {}),
    },
  } as ChildIdNrAssigned;
}

/**
 * The Standesamt revokes the tracking code it handed to the parents (lost, or handed to the
 * wrong person): the old code shows nothing any more, the hub's answer carries the new one.
 */
export function trackingRevocationOf(identity: SignerIdentity, registerKey: GeburtenregisterKey, revokedAt: string, options: MessageOptions = {}): TrackingCodeRevoked {
  const occurredAt = options.occurredAt ?? new Date().toISOString();
  return {
    ...envelope(identity, options.messageId ?? contentMessageId('TrackingCodeRevoked', { registerKey, revokedAt }), registerKey, 'Art. 32 DSGVO (Sicherheit der Verarbeitung)', 'Widerruf des Sendungsverfolgungs-Codes einer Geburt', occurredAt),
    type: 'TrackingCodeRevoked',
    data: { registerKey, revokedAt },
  } as TrackingCodeRevoked;
}
