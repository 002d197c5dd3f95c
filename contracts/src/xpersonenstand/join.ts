// Joining the clinic's notice (081020) and the parents' data (081021) into the registration
// the Standesamt records at Beurkundung, when the register key is assigned.
import { BirthRegisteredDataSchema, type BirthRegisteredData, type Parent } from '../events/birthRegistered.ts';
import type { BirthRegistered } from '../events/events.ts';
import type { GeburtenregisterKey } from '../identifiers/registry.ts';
import type { Producer } from '../envelope.ts';
import { fail, ok, type Result } from '../result.ts';
import { XmlCodecError } from './errors.ts';
import type { BirthNotice, ParentFacts, ParentsSupplement } from './readers.ts';

const rootOf = (kind: '081020' | '081021') => `/xp:portal2StA.Geburt.${kind}`;

function parent(primary: ParentFacts | undefined, secondary: ParentFacts | undefined, path: string): Parent | XmlCodecError {
  const facts = primary ?? secondary;
  if (!facts) return new XmlCodecError('missing-element', 'parent missing', path);
  // Optional in both messages (081020's elternteil2 has none): what needs it asks for it.
  const birthDate = primary?.birthDate ?? secondary?.birthDate;
  const sex = primary?.sex ?? secondary?.sex;
  const address = primary?.address ?? secondary?.address;
  return { name: facts.name, ...(birthDate ? { birthDate } : {}), ...(sex ? { sex } : {}), ...(address ? { address } : {}) };
}

/**
 * Joins 081020 with 081021 (matched by `zuordnungGeburtsanzeige`) and the register key
 * assigned at Beurkundung. Without 081021 there is no consent and no child name yet.
 */
export function joinBirth(
  notice: BirthNotice,
  supplement: ParentsSupplement | undefined,
  registerKey: GeburtenregisterKey,
): Result<BirthRegisteredData, XmlCodecError> {
  if (supplement) {
    const a = notice.zuordnungGeburtsanzeige;
    const b = supplement.zuordnungGeburtsanzeige;
    if (!a || !b || a !== b) {
      return fail(new XmlCodecError('join-mismatch', `zuordnungGeburtsanzeige differs (${a ?? 'none'} / ${b ?? 'none'})`, `${rootOf('081021')}/xp:zuordnungGeburtsanzeige`));
    }
    if (notice.birth.date !== supplement.birth.date) {
      return fail(new XmlCodecError('join-mismatch', 'the two messages give different dates of birth', `${rootOf('081021')}/xp:geburtsangaben/xp:tag`));
    }
    if (notice.child.sex !== supplement.child.sex) {
      return fail(new XmlCodecError('join-mismatch', 'the two messages give different sexes of the child', `${rootOf('081021')}/xp:kind/xp:geschlecht`));
    }
  }
  const parent1 = parent(supplement?.mother, notice.mother, `${rootOf(supplement ? '081021' : '081020')}/xp:mutter`);
  if (parent1 instanceof XmlCodecError) return fail(parent1);
  const hasParent2 = supplement?.parent2 ?? notice.parent2;
  const parent2 = hasParent2 ? parent(supplement?.parent2, notice.parent2, `${rootOf(supplement?.parent2 ? '081021' : '081020')}/xp:elternteil2`) : undefined;
  if (parent2 instanceof XmlCodecError) return fail(parent2);
  const childName = supplement?.child.name ?? notice.child.name;
  const consent = {
    elterngeldstelle: supplement?.consentElterngeldstelle ?? false,
    ...(supplement?.auftragsnummer ? { auftragsnummer: supplement.auftragsnummer } : {}),
    ...(supplement?.zustaendigeElterngeldstelle ? { zustaendigeElterngeldstelle: supplement.zustaendigeElterngeldstelle } : {}),
  };
  const candidate = {
    registerKey,
    child: {
      ...(childName ? { name: childName } : {}),
      sex: notice.child.sex,
      birth: { date: notice.birth.date, ...(notice.birth.time ? { time: notice.birth.time } : {}), exact: notice.birth.time !== undefined },
      placeOfBirth: notice.birth.place,
    },
    parent1,
    ...(parent2 ? { parent2 } : {}),
    consent,
    ...(notice.zuordnungGeburtsanzeige ? { zuordnungGeburtsanzeige: notice.zuordnungGeburtsanzeige } : {}),
    sourceMessageIds: supplement ? [notice.header.messageId, supplement.header.messageId] : [notice.header.messageId],
  };
  const parsed = BirthRegisteredDataSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(new XmlCodecError('invalid-value', `the joined registration is not valid: ${issue?.message ?? 'invalid'} at ${issue?.path.join('.') ?? ''}`, rootOf('081020'), { cause: parsed.error }));
  }
  return ok(parsed.data);
}

export interface RegistrationEnvelope {
  readonly messageId: string;
  readonly occurredAt: string;
  readonly producer: Producer;
  readonly correlationId?: string;
}

export const beurkundungLegalBasis = '§ 21 PStG (Beurkundung der Geburt); § 57 Abs. 1 Nr. 8 PStV';
export const beurkundungPurpose = 'Beurkundung der Geburt im Geburtenregister; Mitteilung an die berechtigten Leistungsbehörden';

/** The `BirthRegistered` event a Standesamt publishes for a joined registration. */
export function toBirthRegistered(data: BirthRegisteredData, envelope: RegistrationEnvelope): BirthRegistered {
  return {
    messageId: envelope.messageId,
    type: 'BirthRegistered',
    schemaVersion: 1,
    occurredAt: envelope.occurredAt,
    producer: envelope.producer,
    legalBasis: beurkundungLegalBasis,
    purpose: beurkundungPurpose,
    correlationId: envelope.correlationId ?? envelope.messageId,
    data,
  };
}
