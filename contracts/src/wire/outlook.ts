// The hub's routing outlook in words, as the Standesamt's commands print it.
import type { HandOffOutlook, HandOffStatus } from './messages.ts';

const words: Record<HandOffStatus, string> = {
  scheduled: 'scheduled',
  'waiting-for-idnr': 'waits for the IdNr',
  'waiting-for-child-name': "waits for the child's name (081021)",
  incomplete: 'data set incomplete',
  'no-consent': 'no consent of the parents',
  'no-application-number': 'no Elterngeld application number',
  'consent-withdrawn': 'consent withdrawn',
  unroutable: 'no recipient configured',
};

const roleWords = { elterngeldstelle: 'Elterngeldstelle', familienkasse: 'Familienkasse' } as const;

/** `Elterngeldstelle Bremen: scheduled; Familienkasse: waits for the IdNr`. */
export function describeOutlook(outlook: readonly HandOffOutlook[]): string {
  return outlook
    .map((o) => `${o.name ?? roleWords[o.role]}: ${words[o.status]}${o.status === 'scheduled' && o.kind === 'correction' ? ' (correction)' : ''}`)
    .join('; ');
}
