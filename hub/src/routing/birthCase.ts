// The routing of one birth case as a pure decide/evolve process: registrations, consent and
// IdNr events in, delivery decisions out. No clock, no I/O, no randomness: delivery ids are
// derived from the causing event and the recipient, so replaying a case decides the same.
// Beside it, the outlook: where a case's hand-offs stand, per recipient role, in the words a
// Standesamt's clerk reads in the hub's answer ("Elterngeldstelle Bremen: scheduled;
// Familienkasse Ost: waits for the IdNr").
import {
  canonicalHash,
  hubDerivedUuid,
  toElterngeldDataSet,
  toKindergeldDataSet,
  elterngeldDataSetGap,
  kindergeldDataSetGap,
  type BirthRegisteredData,
  type DeliveryPayload,
  type ElfeEvent,
  type HandOffOutlook,
  type HandOffStatus,
  type Recipient,
} from '../../../contracts/index.ts';
import { resolveRecipients, type RoutingTable } from './routingTable.ts';

/** § 57 Abs. 1 Nr. 8 PStV: with the parents' consent and an Elterngeld application (auftragsnummer). */
export const elterngeldLegalBasis = '§ 57 Abs. 1 Nr. 8 PStV; § 25 BEEG';
export const elterngeldPurpose = 'Elterngeld: notification of the birth to the Elterngeldstelle with the parents\' consent (closed data set of § 25 BEEG)';
/** Kindergeld needs the IdNr of child and entitled person (§ 62 Abs. 1 EStG); data set modelled on KiGAbV § 3 (unconfirmed, see DOMAIN.md). */
export const kindergeldLegalBasis = '§ 62 Abs. 1 EStG; data set modelled on KiGAbV § 3';
export const kindergeldPurpose = 'Kindergeld: notification of the birth to the responsible Familienkasse';

type RoleOf = Recipient['role'];

export interface CaseState {
  readonly registration?: BirthRegisteredData;
  readonly consentWithdrawn: boolean;
  readonly ids: { readonly childIdNr?: string; readonly parent1IdNr?: string; readonly parent2IdNr?: string };
  /** Recipients that got the initial delivery, by role. */
  readonly delivered: Partial<Record<RoleOf, Recipient>>;
  /** The id of the last delivery to that recipient, by role: what a correction corrects. */
  readonly lastDelivery: Partial<Record<RoleOf, string>>;
  /** Delivery ids already scheduled, and `caused:<event>:<recipient>` keys (so that replay decides nothing twice). */
  readonly scheduled: ReadonlySet<string>;
  readonly unroutable?: string;
}

export const initialState: CaseState = { consentWithdrawn: false, ids: {}, delivered: {}, lastDelivery: {}, scheduled: new Set() };

export interface DeliveryDecision {
  readonly deliveryId: string;
  readonly recipient: Recipient;
  readonly kind: 'initial' | 'correction';
  /** A correction: the delivery it corrects (the last one to the same recipient) and the Standesamt's reason. */
  readonly correction?: { readonly corrects: string; readonly reason: string };
  readonly legalBasis: string;
  readonly purpose: string;
  readonly payload: DeliveryPayload;
  readonly payloadHash: string;
  /** The event that caused the decision. */
  readonly causationId: string;
}

export interface Unroutable {
  readonly unroutable: true;
  readonly role: RoleOf;
  readonly reason: string;
}

function payloadFor(role: RoleOf, state: CaseState): DeliveryPayload | undefined {
  const registration = state.registration;
  if (!registration) return undefined;
  if (role === 'elterngeldstelle') {
    if (state.consentWithdrawn) return undefined;
    const set = toElterngeldDataSet(registration);
    return set.success ? set.data : undefined;
  }
  const set = toKindergeldDataSet(registration, state.ids);
  return set.success ? set.data : undefined;
}

const roles: readonly RoleOf[] = ['elterngeldstelle', 'familienkasse'];
const causedKey = (causationId: string, dvdv: string) => `caused:${causationId}:${dvdv}`;

/** `reason`: the reason when the event is a correction; `only`: the one role a correction concerns (an IdNr correction: the Familienkasse). */
function decisionsFor(state: CaseState, causationId: string, table: RoutingTable, reason?: string, only?: RoleOf): (DeliveryDecision | Unroutable)[] {
  const registration = state.registration;
  if (!registration) return [];
  const out: (DeliveryDecision | Unroutable)[] = [];
  const resolved = resolveRecipients(table, registration);
  for (const role of roles) {
    if (only !== undefined && role !== only) continue;
    const prior = state.delivered[role];
    // Delivered before and not a correction: nothing to decide (checked before the data set is built).
    if (prior && reason === undefined) continue;
    // A correction goes to whoever received the original; otherwise a first delivery.
    const recipient = prior ?? resolved[role];
    const deliveryId = recipient && hubDerivedUuid('delivery', causationId, recipient.dvdv);
    // Also by cause and recipient, so that a log written before ids moved to the hub's
    // namespace replays without deciding its deliveries again.
    if (recipient && deliveryId && (state.scheduled.has(deliveryId) || state.scheduled.has(causedKey(causationId, recipient.dvdv)))) continue;
    const payload = payloadFor(role, state);
    if (!payload) continue;
    if (!recipient || !deliveryId) {
      out.push({ unroutable: true, role, reason: `no ${role} for Standesamt ${registration.registerKey.standesamtsnummer}` });
      continue;
    }
    const corrects = prior ? state.lastDelivery[role] : undefined;
    out.push({
      deliveryId,
      recipient,
      kind: prior ? 'correction' : 'initial',
      ...(prior && corrects !== undefined && reason !== undefined ? { correction: { corrects, reason } } : {}),
      legalBasis: role === 'elterngeldstelle' ? elterngeldLegalBasis : kindergeldLegalBasis,
      purpose: role === 'elterngeldstelle' ? elterngeldPurpose : kindergeldPurpose,
      payload,
      payloadHash: canonicalHash(payload),
      causationId,
    });
  }
  return out;
}

/** What the case decides on `event`, given the state before it. */
export function decide(state: CaseState, event: ElfeEvent, table: RoutingTable): (DeliveryDecision | Unroutable)[] {
  switch (event.type) {
    case 'BirthRegistered':
      if (state.registration) return [];
      return decisionsFor(evolve(state, event), event.messageId, table);
    case 'ChildIdNrAssigned':
      // An explicit IdNr correction re-delivers the Kindergeld data set to the Familienkasse
      // (a correction of its last delivery, with the Meldebehörde's reason); the Elterngeld
      // data set carries no IdNr.
      if (event.data.correction) return decisionsFor(evolve(state, event), event.messageId, table, event.data.correction.reason, 'familienkasse');
      return decisionsFor(evolve(state, event), event.messageId, table);
    case 'BirthRegistrationCorrected':
      return decisionsFor(evolve(state, event), event.messageId, table, event.data.reason);
    default:
      return [];
  }
}

/** The state after `event`. */
export function evolve(state: CaseState, event: ElfeEvent): CaseState {
  switch (event.type) {
    case 'BirthRegistered':
      return state.registration ? state : { ...state, registration: event.data };
    case 'BirthRegistrationCorrected':
      return { ...state, registration: event.data.registration };
    case 'ParentalConsentWithdrawn':
      return { ...state, consentWithdrawn: true };
    case 'ChildIdNrAssigned': {
      const { childIdNr, parent1IdNr, parent2IdNr } = event.data;
      return { ...state, ids: { ...state.ids, childIdNr, ...(parent1IdNr ? { parent1IdNr } : {}), ...(parent2IdNr ? { parent2IdNr } : {}) } };
    }
    case 'DeliveryScheduled': {
      const role = event.data.recipient.role;
      const delivered = state.delivered[role] ? state.delivered : { ...state.delivered, [role]: event.data.recipient };
      // Every delivery of a role goes to the recipient of the first one (corrections follow it).
      const lastDelivery = delivered[role]!.dvdv === event.data.recipient.dvdv ? { ...state.lastDelivery, [role]: event.data.deliveryId } : state.lastDelivery;
      const cause = event.causationId ? [causedKey(event.causationId, event.data.recipient.dvdv)] : [];
      return { ...state, delivered, lastDelivery, scheduled: new Set([...state.scheduled, event.data.deliveryId, ...cause]) };
    }
    default:
      return state;
  }
}

export const isDecision = (d: DeliveryDecision | Unroutable): d is DeliveryDecision => !('unroutable' in d);

const elterngeldStatus: Record<'no-consent' | 'no-auftragsnummer' | 'no-child-name', HandOffStatus> = {
  'no-consent': 'no-consent',
  'no-auftragsnummer': 'no-application-number',
  'no-child-name': 'waiting-for-child-name',
};

const kindergeldStatus: Record<'no-child-idnr' | 'no-entitled-idnr' | 'no-child-name' | 'no-entitled-parent' | 'no-entitled-birth-date', HandOffStatus> = {
  'no-child-idnr': 'waiting-for-idnr',
  'no-entitled-idnr': 'waiting-for-idnr',
  'no-child-name': 'waiting-for-child-name',
  'no-entitled-parent': 'incomplete',
  'no-entitled-birth-date': 'incomplete',
};

/**
 * One line per recipient role; empty while the case has no registration. `correcting` names
 * the roles whose hand-off the answered submission corrects (a Standesamt's correction: both
 * earlier recipients; a Meldebehörde's IdNr correction: the Familienkasse); anything else's
 * hand-off is the initial one.
 */
export function outlookOf(state: CaseState, table: RoutingTable | undefined, correcting: readonly HandOffOutlook['role'][] = []): HandOffOutlook[] {
  const registration = state.registration;
  if (!registration) return [];
  const resolved = table ? resolveRecipients(table, registration) : {};
  const line = (role: HandOffOutlook['role'], status: HandOffStatus): HandOffOutlook => {
    const recipient = state.delivered[role] ?? resolved[role];
    if (!recipient && status === 'scheduled') return { role, status: 'unroutable' };
    return {
      role,
      ...(recipient ? { dvdv: recipient.dvdv, name: recipient.name } : {}),
      status,
      ...(status === 'scheduled' ? { kind: correcting.includes(role) && state.delivered[role] ? ('correction' as const) : ('initial' as const) } : {}),
    };
  };
  // Only whether each data set can be built, not the data sets themselves: the scheduler builds them.
  const egs = elterngeldDataSetGap(registration);
  const fk = kindergeldDataSetGap(registration, state.ids);
  return [
    line('elterngeldstelle', state.consentWithdrawn ? 'consent-withdrawn' : egs === undefined ? 'scheduled' : elterngeldStatus[egs]),
    line('familienkasse', fk === undefined ? 'scheduled' : kindergeldStatus[fk]),
  ];
}

/** The roles whose earlier hand-off a submission corrects. */
export function correctedRoles(event: { type: string; data: unknown }): HandOffOutlook['role'][] {
  if (event.type === 'BirthRegistrationCorrected') return ['elterngeldstelle', 'familienkasse'];
  if (event.type === 'ChildIdNrAssigned' && (event.data as { correction?: unknown }).correction !== undefined) return ['familienkasse'];
  return [];
}
