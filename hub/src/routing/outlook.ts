// Where a case's hand-offs stand, per recipient role, in the words a Standesamt's clerk
// reads in the hub's answer: "Elterngeldstelle Bremen: scheduled; Familienkasse Ost: waits
// for the IdNr". Pure: the case's state and the routing table in, one line per role out.
import { toElterngeldDataSet, toKindergeldDataSet, type HandOffOutlook, type HandOffStatus } from '../../../contracts/index.ts';
import type { CaseState } from './birthCase.ts';
import { resolveRecipients, type RoutingTable } from './routingTable.ts';

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
  const egs = toElterngeldDataSet(registration);
  const fk = toKindergeldDataSet(registration, state.ids);
  return [
    line('elterngeldstelle', state.consentWithdrawn ? 'consent-withdrawn' : egs.success ? 'scheduled' : elterngeldStatus[egs.reason]),
    line('familienkasse', fk.success ? 'scheduled' : kindergeldStatus[fk.reason]),
  ];
}

/** The roles whose earlier hand-off a submission corrects. */
export function correctedRoles(event: { type: string; data: unknown }): HandOffOutlook['role'][] {
  if (event.type === 'BirthRegistrationCorrected') return ['elterngeldstelle', 'familienkasse'];
  if (event.type === 'ChildIdNrAssigned' && (event.data as { correction?: unknown }).correction !== undefined) return ['familienkasse'];
  return [];
}
