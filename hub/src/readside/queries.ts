// Questions the API asks of the projections: a case's status, what an id is and where it
// stands, and the Datenschutzcockpit's transparency answer by IdNr.
import type { ProjectionStore } from './projectionStore.ts';
import { caseStatus, handOffStatus, type CaseStatus, type StatusContext } from './status.ts';

export interface Link {
  readonly rel: string;
  readonly href: string;
}

export interface LookUpAnswer {
  readonly id: string;
  readonly kind: string;
  /** What the id is, in plain language. */
  readonly what: string;
  /** Where it stands and why. */
  readonly where: string;
  readonly logPosition: number;
  readonly caseId?: string;
  readonly deliveryId?: string;
  readonly standesamt?: string;
  readonly recipient?: string;
  readonly links: Link[];
}

export const caseHref = (caseId: string) => `/api/v1/cases/${encodeURIComponent(caseId)}`;
export const lookUpHref = (id: string) => `/api/v1/lookup/${encodeURIComponent(id)}`;

export function statusOfCase(store: ProjectionStore, ctx: StatusContext, caseId: string): CaseStatus | undefined {
  const c = store.caseById(caseId);
  return c && caseStatus(c, store.handOffsOf(caseId), ctx);
}

const describe: Record<string, string> = {
  case: 'a birth case (all log entries of one Geburtenregister entry)',
  'register-key': 'a Geburtenregister key (Standesamtsnummer/G/year/entry number)',
  delivery: 'a hand-off of a data set to a benefit agency (DeliveryScheduled)',
  receipt: "an agency's signed receipt for a hand-off",
  checkpoint: 'a signed checkpoint of the log (Merkle tree head)',
};

/**
 * What an id is and where it stands. `sees(recipient)`: whose hand-offs the caller may see (an
 * agency only its own): an id of another recipient's hand-off is unknown to it, and a case's
 * answer names only the visible hand-offs (nothing of another agency's state or reasons).
 */
export function lookUp(store: ProjectionStore, ctx: StatusContext, id: string, sees?: (recipient: string) => boolean): LookUpAnswer | undefined {
  const row = store.lookUp(id);
  if (!row) return undefined;
  const handOff = row.deliveryId ? store.handOff(row.deliveryId) : undefined;
  const seen = (recipient: string | undefined) => sees === undefined || (recipient !== undefined && sees(recipient));
  if (row.deliveryId && !seen(handOff?.recipient)) return undefined;
  const links: Link[] = [{ rel: 'inclusion-proof', href: `/api/v1/proofs/inclusion/${row.position}` }];
  const what = row.kind === 'message' ? `a log entry of type ${row.type}` : (describe[row.kind] ?? row.kind);
  let where = `recorded in the log at position ${row.position}`;
  let standesamt: string | undefined;
  let recipient: string | undefined;
  if (row.caseId) {
    links.push({ rel: 'case', href: caseHref(row.caseId) });
    const c = store.caseById(row.caseId);
    standesamt = c?.standesamt;
    if (c && !row.deliveryId) {
      const status = caseStatus(c, store.handOffsOf(row.caseId), ctx);
      const visible = status.recipients.filter((r) => seen(r.recipient));
      where = `${where}; case ${c.registerKey}: ${visible.map((r) => `${r.role} ${r.state} (${r.why})`).join('; ')}`;
      for (const r of visible) if (r.deliveryId) links.push({ rel: 'delivery', href: lookUpHref(r.deliveryId) });
    }
  }
  if (row.deliveryId) {
    const h = handOff;
    if (h) {
      recipient = h.recipient;
      const s = handOffStatus(h, ctx);
      where = `${where}; the hand-off to ${h.recipientName} is ${s.state}: ${s.why}${s.nextParty ? `; next: ${s.nextParty}` : ''}`;
      if (row.kind !== 'delivery') links.push({ rel: 'delivery', href: lookUpHref(h.deliveryId) });
    }
  }
  if (row.kind === 'checkpoint') links.push({ rel: 'checkpoint', href: '/api/v1/checkpoint' });
  return {
    id: row.id,
    kind: row.kind,
    what,
    where,
    logPosition: row.position,
    ...(row.caseId ? { caseId: row.caseId } : {}),
    ...(row.deliveryId ? { deliveryId: row.deliveryId } : {}),
    ...(standesamt ? { standesamt } : {}),
    ...(recipient ? { recipient } : {}),
    links,
  };
}

export interface TransparencyEntry {
  readonly recipient: string;
  readonly recipientName: string;
  readonly sender: string;
  readonly at: string;
  readonly data: string;
  readonly legalBasis: string;
  readonly purpose: string;
  readonly state: string;
}

export interface TransparencyAnswer {
  readonly from: string;
  readonly to: string;
  readonly exchanges: TransparencyEntry[];
  readonly erasedCases: number;
}

/** The data set's content, in German (the Datenschutzcockpit answers citizens in German). */
export const dataOf: Record<string, string> = {
  'beeg-25': 'Geburtsdatum und -ort, Geburtsname und Vornamen des Kindes; Namen beider Eltern; Antragsnummer für das Elterngeld (§ 25 BEEG)',
  kindergeld: 'Kind und berechtigte Person: Steuer-ID, Namen, Geburtsdatum, Geschlecht, Anschrift; Namen der Eltern des Kindes',
};

/** The category of a data set, as the protocol of an erased case keeps it. */
const erasedCategory: Record<string, string> = {
  'beeg-25': 'Geburtsmitteilung an die Elterngeldstelle (Datensatz nach § 25 BEEG)',
  kindergeld: 'Geburtsmitteilung an die Familienkasse (Kindergeld-Datensatz)',
};

/**
 * Purposes and legal bases as the log records them (routing writes them in English), in German:
 * the log keeps what was written, the answers to people speak German.
 */
const germanTexts: Record<string, string> = {
  "Elterngeld: notification of the birth to the Elterngeldstelle with the parents' consent (closed data set of § 25 BEEG)": 'Elterngeld: Mitteilung der Geburt an die Elterngeldstelle mit Einwilligung der Eltern (abschließender Datensatz nach § 25 BEEG)',
  'Kindergeld: notification of the birth to the responsible Familienkasse': 'Kindergeld: Mitteilung der Geburt an die zuständige Familienkasse',
  '§ 62 Abs. 1 EStG; data set modelled on KiGAbV § 3': '§ 62 Abs. 1 EStG; Datensatz nach dem Vorbild von § 3 KiGAbV',
};

/** A purpose or legal basis in German (as recorded when it is German already or unknown). */
export const inGerman = (text: string): string => germanTexts[text] ?? text.replace(/\bdata set modelled on\b/, 'Datensatz nach dem Vorbild von');

/** Which public bodies received which data about the person with this IdNr, in the last two years. */
export function transparency(store: ProjectionStore, ctx: StatusContext, idnr: string, now: Date): TransparencyAnswer {
  const from = new Date(now);
  from.setUTCFullYear(from.getUTCFullYear() - 2);
  const exchanges: TransparencyEntry[] = [];
  // Erased cases: only what the § 9 IDNrG protocol keeps (recipient, time, legal basis, the category of data).
  const protocol = store.protocolOfPerson(idnr).filter((p) => p.at >= from.toISOString());
  const erased = new Set(protocol.map((p) => p.caseId));
  for (const p of protocol) {
    exchanges.push({
      recipient: p.recipient,
      recipientName: p.recipientName,
      sender: p.sender,
      at: p.at,
      data: `${erasedCategory[p.dataSet] ?? p.dataSet} (gelöscht: die Daten dieses Falls wurden gelöscht; der Nachweis der Übermittlung bleibt zwei Jahre erhalten, § 9 IDNrG)`,
      legalBasis: inGerman(p.legalBasis),
      purpose: inGerman(p.purpose),
      state: 'erased',
    });
  }
  let erasedCases = erased.size;
  for (const c of store.casesOfPerson(idnr)) {
    if (c.erasedAt) erasedCases++;
    for (const h of store.handOffsOf(c.caseId)) {
      if (h.scheduledAt < from.toISOString()) continue;
      exchanges.push({
        recipient: h.recipient,
        recipientName: h.recipientName,
        sender: `Standesamt ${c.standesamt} via elfe-hub`,
        at: h.scheduledAt,
        data: c.erasedAt ? 'gelöscht: die Daten dieses Falls wurden gelöscht; der Nachweis der Übermittlung bleibt erhalten' : (dataOf[h.dataSet] ?? h.dataSet),
        legalBasis: inGerman(h.legalBasis),
        purpose: inGerman(h.purpose),
        state: handOffStatus(h, ctx).state,
      });
    }
  }
  return { from: from.toISOString(), to: now.toISOString(), exchanges, erasedCases };
}
