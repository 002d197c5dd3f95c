// The one adapter between the log and the read side: a stored event in, the facts the
// projections need out (case id, register key, which persons a case concerns, hand-off
// steps). When events carry ciphertext and keyed case ids instead of plain register keys,
// only this file changes.
import { formatRegisterKey, type BirthRegisteredData, type DeliveryScheduled } from '../../../contracts/index.ts';
import type { StoredEvent } from '../log/eventStore.ts';
import { fromRecord } from '../log/records.ts';

export type AgencyRole = 'elterngeldstelle' | 'familienkasse';

interface Base {
  readonly messageId: string;
  readonly position: number;
  readonly stream: string;
  /** When the log recorded the entry. */
  readonly at: string;
}

/** What the read side learns about a birth case from a registration or correction. */
export interface CaseFacts {
  readonly caseId: string;
  /** `11007007/G/2026/334`; the look-up key of the Standesamt. */
  readonly registerKey: string;
  readonly standesamt: string;
  readonly birthDate: string;
  readonly consent: boolean;
  /** IdNrs of the persons the case concerns; hashed by the projection at once, never stored. */
  readonly idnrs: readonly string[];
}

export type ReadFact = Base &
  (
    | ({ readonly kind: 'registered' | 'corrected' } & CaseFacts)
    | { readonly kind: 'consent-withdrawn'; readonly caseId: string }
    | { readonly kind: 'idnr-assigned'; readonly caseId: string; readonly idnrs: readonly string[] }
    | {
        readonly kind: 'scheduled';
        readonly caseId: string;
        readonly deliveryId: string;
        readonly recipient: string;
        readonly recipientName: string;
        readonly role: AgencyRole;
        readonly handOffKind: 'initial' | 'correction';
        readonly legalBasis: string;
        readonly purpose: string;
        readonly dataSet: 'beeg-25' | 'kindergeld';
      }
    | { readonly kind: 'acknowledged' | 'rejected' | 'dead-lettered'; readonly deliveryId: string; readonly reason?: string; /** The recipient's time of storing it, as its receipt says. */ readonly receivedAt?: string }
    | { readonly kind: 'overdue' | 'escalated'; readonly deliveryId: string; readonly dueAt: string; readonly step: 'acknowledge' | 'decide' }
    | { readonly kind: 'checkpoint'; readonly treeSize: number }
    /** The case was erased: its rows go, what the § 9 IDNrG protocol keeps stays. */
    | { readonly kind: 'erased'; readonly caseId: string; readonly erasedAt: string; readonly reason: string }
    /** A recipient of the erased case was sent the erasure notice, or confirmed it with its signed receipt (Art. 19 DSGVO). */
    | { readonly kind: 'erasure-notice' | 'erasure-confirmed'; readonly caseId: string; readonly noticeId: string; readonly recipient: string; readonly deliveryIds: readonly string[] }
    /** An agency's milestone of a hand-off it received (signed by it). */
    | { readonly kind: 'milestone'; readonly deliveryId: string; readonly recipient: string; readonly status: 'in-bearbeitung' | 'bewilligt' | 'abgelehnt' | 'ausgezahlt'; readonly code?: string; readonly reportedAt: string }
    /** The Standesamt revoked the case's tracking code (a new one replaces it). */
    | { readonly kind: 'tracking-revoked'; readonly caseId: string }
    | { readonly kind: 'security' }
  );

const caseFacts = (caseId: string, r: BirthRegisteredData): CaseFacts => ({
  caseId,
  registerKey: formatRegisterKey(r.registerKey),
  standesamt: r.registerKey.standesamtsnummer,
  birthDate: r.child.birth.date,
  consent: r.consent.elterngeldstelle && r.consent.auftragsnummer !== undefined,
  idnrs: [r.child.idnr, r.parent1.idnr, r.parent2?.idnr].flatMap((x) => (x === undefined ? [] : [x as string])),
});

const dataSetOf = (d: DeliveryScheduled['data']): 'beeg-25' | 'kindergeld' => d.payload?.dataSet ?? (d.recipient.role === 'elterngeldstelle' ? 'beeg-25' : 'kindergeld');

/** The read side's view of one log entry; undefined for entries it does not follow. */
export function readFact(stored: StoredEvent): ReadFact | undefined {
  const event = fromRecord(stored);
  if (!event) return undefined;
  const base: Base = { messageId: event.messageId, position: stored.position, stream: stored.stream, at: stored.recordedAt };
  switch (event.type) {
    case 'BirthRegistered':
      return { ...base, kind: 'registered', ...caseFacts(stored.stream, event.data) };
    case 'BirthRegistrationCorrected':
      return { ...base, kind: 'corrected', ...caseFacts(stored.stream, event.data.registration) };
    case 'ParentalConsentWithdrawn':
      return { ...base, kind: 'consent-withdrawn', caseId: stored.stream };
    case 'ChildIdNrAssigned': {
      const d = event.data;
      return { ...base, kind: 'idnr-assigned', caseId: stored.stream, idnrs: [d.childIdNr, d.parent1IdNr, d.parent2IdNr].flatMap((x) => (x === undefined ? [] : [x as string])) };
    }
    case 'DeliveryScheduled': {
      const d = event.data;
      return {
        ...base,
        kind: 'scheduled',
        caseId: stored.stream,
        deliveryId: d.deliveryId,
        recipient: d.recipient.dvdv,
        recipientName: d.recipient.name,
        role: d.recipient.role,
        handOffKind: d.kind,
        legalBasis: d.legalBasis,
        purpose: d.purpose,
        dataSet: dataSetOf(d),
      };
    }
    case 'DeliveryAcknowledged':
      return { ...base, kind: 'acknowledged', deliveryId: event.data.deliveryId, receivedAt: event.data.receivedAt };
    case 'DeliveryRejected':
      return { ...base, kind: 'rejected', deliveryId: event.data.deliveryId, reason: `${event.data.reasonCode}: ${event.data.reason}`.slice(0, 500) };
    case 'DeliveryDeadLettered':
      return { ...base, kind: 'dead-lettered', deliveryId: event.data.deliveryId, reason: `given up after ${event.data.deliveryAttempts} delivery attempts` };
    case 'HandOffOverdue':
      return { ...base, kind: 'overdue', deliveryId: event.data.deliveryId, dueAt: event.data.dueAt, step: event.data.step };
    case 'HandOffEscalated':
      return { ...base, kind: 'escalated', deliveryId: event.data.deliveryId, dueAt: event.data.dueAt, step: event.data.step };
    case 'LogCheckpointSigned':
      return { ...base, kind: 'checkpoint', treeSize: event.data.treeSize };
    case 'SecurityEventRecorded':
      return { ...base, kind: 'security' };
    case 'CaseErased':
      return { ...base, kind: 'erased', caseId: stored.stream, erasedAt: event.data.erasedAt, reason: event.data.reason };
    case 'ErasureNoticeScheduled':
      return { ...base, kind: 'erasure-notice', caseId: `birth-${event.data.caseId}`, noticeId: event.data.noticeId, recipient: event.data.recipient.dvdv, deliveryIds: event.data.deliveryIds };
    case 'ErasureConfirmed':
      // In the case's erasure stream, `erasure-<case id>`.
      return { ...base, kind: 'erasure-confirmed', caseId: `birth-${stored.stream.slice('erasure-'.length)}`, noticeId: event.data.noticeId, recipient: event.data.recipient, deliveryIds: event.data.deliveryIds };
    case 'HandOffMilestone': {
      const d = event.data;
      return { ...base, kind: 'milestone', deliveryId: d.deliveryId, recipient: d.recipient, status: d.status, ...(d.code ? { code: d.code } : {}), reportedAt: d.reportedAt };
    }
    case 'TrackingCodeRevoked':
      return { ...base, kind: 'tracking-revoked', caseId: stored.stream };
    case 'CertificateSeen':
      // A signer's certificate kept for the audit (the `certificates` stream): no birth case in it.
      return undefined;
    default:
      // Every event type has its case: a new type fails the typecheck here instead of going unseen.
      event satisfies never;
      return undefined;
  }
}
