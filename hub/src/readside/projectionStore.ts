// The read side's own SQLite file (`<dataDir>/readside/readside.sqlite`): projections of the
// log with the position they reached, so a restart continues where it stopped. It is not a
// second source of truth: delete the file and it is rebuilt from the log. Two tables are
// not projections and survive a rebuild: `erased` (which cases were erased, when, why) and
// `protocol` (§ 9 IDNrG: for two years, which body received which category of data about
// the person with an IdNr, when and on which legal basis; keyed by the IdNr's HMAC, with no
// data fields) — after an erasure the log can no longer tell either.
import { createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import { preparePrivateDatabaseFile } from '../log/privateFiles.ts';
import type { ReadFact } from './facts.ts';
import type { CaseRow, HandOffRow } from './status.ts';
import { trackingCodeOf, trackingDigest } from '../tracking/trackingCode.ts';

/** Bumped when the tables change: an older file is rebuilt from the log. */
const schemaVersion = '3';

export type IdKind = 'message' | 'delivery' | 'receipt' | 'case' | 'register-key' | 'checkpoint' | 'erased';

export interface IdRow {
  readonly id: string;
  readonly kind: IdKind;
  readonly caseId: string | null;
  readonly deliveryId: string | null;
  readonly position: number;
  readonly type: string;
}

/**
 * The hand-offs that count in the late and dead-letter figures: few in a running exchange, and
 * indexed apart (handoffs_late), so that counting them reads them alone, not every hand-off.
 */
const lateHandOff = "overdue_at IS NOT NULL OR escalated_at IS NOT NULL OR decision_overdue_at IS NOT NULL OR decision_escalated_at IS NOT NULL OR outcome = 'dead-letter'";

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, register_key TEXT NOT NULL, standesamt TEXT NOT NULL, registered_at TEXT NOT NULL,
  birth_date TEXT NOT NULL, consent INTEGER NOT NULL, consent_withdrawn_at TEXT, idnr_known INTEGER NOT NULL, erased_at TEXT);
CREATE INDEX IF NOT EXISTS cases_day ON cases (substr(registered_at, 1, 10));
CREATE TABLE IF NOT EXISTS handoffs (delivery_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, recipient TEXT NOT NULL, recipient_name TEXT NOT NULL, role TEXT NOT NULL,
  kind TEXT NOT NULL, legal_basis TEXT NOT NULL, purpose TEXT NOT NULL, data_set TEXT NOT NULL, scheduled_at TEXT NOT NULL, scheduled_position INTEGER NOT NULL,
  outcome TEXT, answered_at TEXT, reason TEXT, overdue_at TEXT, escalated_at TEXT, decided_at TEXT, decision_overdue_at TEXT, decision_escalated_at TEXT, received_at TEXT);
CREATE INDEX IF NOT EXISTS handoffs_case_role ON handoffs (case_id, role);
DROP INDEX IF EXISTS handoffs_case;
CREATE INDEX IF NOT EXISTS handoffs_late ON handoffs (outcome) WHERE ${lateHandOff};
CREATE INDEX IF NOT EXISTS handoffs_open ON handoffs (scheduled_at) WHERE outcome IS NULL;
CREATE TABLE IF NOT EXISTS ids (id TEXT PRIMARY KEY, kind TEXT NOT NULL, case_id TEXT, delivery_id TEXT, position INTEGER NOT NULL, type TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS persons (idnr_hash BLOB NOT NULL, case_id TEXT NOT NULL, PRIMARY KEY (idnr_hash, case_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (tree_size INTEGER PRIMARY KEY, position INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS erased (case_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL, reason TEXT NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS protocol (idnr_hash BLOB NOT NULL, case_id TEXT NOT NULL, recipient TEXT NOT NULL, recipient_name TEXT NOT NULL, sender TEXT NOT NULL,
  at TEXT NOT NULL, legal_basis TEXT NOT NULL, purpose TEXT NOT NULL, data_set TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS protocol_person ON protocol (idnr_hash);
CREATE TABLE IF NOT EXISTS erasure_notices (notice_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, recipient TEXT NOT NULL, told_at TEXT, confirmed_at TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS erasure_notices_case ON erasure_notices (case_id);
CREATE TABLE IF NOT EXISTS milestones (message_id TEXT PRIMARY KEY, delivery_id TEXT NOT NULL, case_id TEXT, recipient TEXT NOT NULL, status TEXT NOT NULL, code TEXT,
  reported_at TEXT NOT NULL, at TEXT NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS milestones_delivery ON milestones (delivery_id, position);
CREATE INDEX IF NOT EXISTS milestones_case ON milestones (case_id);
CREATE TABLE IF NOT EXISTS tracking (code_digest TEXT PRIMARY KEY, case_id TEXT NOT NULL, generation INTEGER NOT NULL, revoked_at TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tracking_case ON tracking (case_id);
`;

/** An agency's milestone of a hand-off (what became of it), as the timeline and the family page show it. */
export interface MilestoneRow {
  readonly messageId: string;
  readonly deliveryId: string;
  readonly caseId: string | null;
  readonly recipient: string;
  readonly status: 'in-bearbeitung' | 'bewilligt' | 'abgelehnt' | 'ausgezahlt';
  readonly code: string | null;
  /** When the agency reported it (its clock, as signed). */
  readonly reportedAt: string;
  /** When the hub logged it. */
  readonly at: string;
  readonly position: number;
}

/** What the § 9 IDNrG protocol keeps of a hand-off of an erased case: who, when, why, which category; nothing of the data. */
export interface ProtocolRow {
  readonly caseId: string;
  readonly recipient: string;
  readonly recipientName: string;
  readonly sender: string;
  readonly at: string;
  readonly legalBasis: string;
  readonly purpose: string;
  readonly dataSet: string;
}

export interface ErasedRow {
  readonly caseId: string;
  readonly erasedAt: string;
  readonly reason: string;
  /** Each recipient told of the erasure, and when it confirmed (null while it has not). */
  readonly recipients: readonly { readonly recipient: string; readonly toldAt: string | null; readonly confirmedAt: string | null }[];
}

/** The recipient roles every case is counted for, once each (`r.role`). */
const recipientRoles = "(SELECT 'elterngeldstelle' AS role UNION ALL SELECT 'familienkasse')";
/** Why a case (`c`) has no hand-off to a role (`r`): the CASE branches of a held-back state. */
const heldBackStates = `WHEN r.role = 'elterngeldstelle' AND c.consent_withdrawn_at IS NOT NULL THEN 'held-back:consent-withdrawn'
  WHEN r.role = 'elterngeldstelle' AND c.consent = 0 THEN 'held-back:no-consent'
  WHEN r.role = 'familienkasse' AND c.idnr_known = 0 THEN 'held-back:no-idnr'
  WHEN EXISTS (SELECT 1 FROM holds x WHERE x.case_id = c.case_id AND x.role = r.role) THEN 'held-back:certificate'
  ELSE 'waiting'`;
/** An acknowledged hand-off past its decision deadline without a decision milestone. */
const decisionLate = "outcome = 'acknowledged' AND decided_at IS NULL AND (decision_overdue_at IS NOT NULL OR decision_escalated_at IS NOT NULL)";
const milestoneCols = 'message_id AS messageId, delivery_id AS deliveryId, case_id AS caseId, recipient, status, code, reported_at AS reportedAt, at, position';
const caseCols = 'case_id AS caseId, register_key AS registerKey, standesamt, registered_at AS registeredAt, consent, consent_withdrawn_at AS consentWithdrawnAt, idnr_known AS idnrKnown, erased_at AS erasedAt';
// The Standesamt from the case's row: a keyed case id names none.
const handOffCols = `delivery_id AS deliveryId, case_id AS caseId, (SELECT c.standesamt FROM cases c WHERE c.case_id = handoffs.case_id) AS standesamt, recipient, recipient_name AS recipientName, role, kind, legal_basis AS legalBasis, purpose, data_set AS dataSet,
  scheduled_at AS scheduledAt, scheduled_position AS scheduledPosition, outcome, answered_at AS answeredAt, reason, overdue_at AS overdueAt, escalated_at AS escalatedAt,
  received_at AS receivedAt, decided_at AS decidedAt, decision_overdue_at AS decisionOverdueAt, decision_escalated_at AS decisionEscalatedAt`;

type RawCase = Omit<CaseRow, 'consent' | 'idnrKnown'> & { consent: number; idnrKnown: number };
const toCase = (r: RawCase): CaseRow => ({ ...r, consent: r.consent === 1, idnrKnown: r.idnrKnown === 1 });

export interface ProjectionStore {
  /** Log position the projections reached (the next entry to apply). */
  readonly position: number;
  /** Applies a batch of facts and the new position in one transaction. */
  apply(facts: readonly ReadFact[], nextPosition: number): void;
  /** Drops every projection (a rebuild from the log follows). */
  reset(): void;
  /** Why the projections were dropped when the file was opened (to be projected again from the log); undefined when they were kept. */
  readonly droppedAtOpen: string | undefined;
  caseById(caseId: string): CaseRow | undefined;
  handOffsOf(caseId: string): HandOffRow[];
  handOff(deliveryId: string): HandOffRow | undefined;
  lookUp(id: string): IdRow | undefined;
  /** Cases of the person with this IdNr (by keyed hash). */
  casesOfPerson(idnr: string): CaseRow[];
  openHandOffs(scheduledBefore: string, limit?: number): HandOffRow[];
  /** Acknowledged hand-offs without a decision milestone (and not yet escalated for it), acknowledged before the given time. */
  undecidedHandOffs(acknowledgedBefore: string, limit?: number): HandOffRow[];
  handOffsWhere(filter: { recipient?: string; standesamt?: string; lateOnly?: boolean; outcome?: string }, limit: number): HandOffRow[];
  birthsPerDay(days: number): { day: string; births: number }[];
  handOffsByState(): { state: string; count: number }[];
  latestCheckpoints(limit: number): { treeSize: number; position: number; at: string }[];
  /** Hand-offs late for the receipt (`overdue`, `escalated`) and, acknowledged, late for the decision (`decisionOverdue`, `decisionEscalated`). */
  counts(): { cases: number; handOffs: number; overdue: number; escalated: number; deadLetters: number; decisionOverdue: number; decisionEscalated: number };
  /** The erasure of a case, if it was erased. */
  erasedCase(caseId: string): ErasedRow | undefined;
  /** What the protocol keeps about the person with this IdNr from erased cases (by keyed hash). */
  protocolOfPerson(idnr: string): ProtocolRow[];
  /**
   * Every case in exactly one state per recipient role: its latest hand-off's state, or why it
   * is held back (`held-back:no-consent`, `held-back:consent-withdrawn`, `held-back:no-idnr`,
   * `held-back:certificate` for an unusable recipient certificate, `waiting` for routing). Per role the counts add up to the number of cases in scope; with
   * `recipient`, only cases handed to that recipient.
   */
  statesByRecipient(scope: { standesamt?: string; recipient?: string }, relayPosition: number): { role: string; state: string; count: number }[];
  /**
   * The cases without a hand-off to a recipient role, by why (`statesByRecipient`'s held-back and
   * waiting states, for all cases): one index lookup per case and role, for the hub's gauges.
   */
  heldBack(): { role: string; state: string; count: number }[];
  /** Births per day of birth, and per hour (UTC, `YYYY-MM-DDTHH`) of registration: the caller folds hours into local days. */
  births(scope: { standesamt?: string }, days: number): { byBirth: { day: string; births: number }[]; byRegisteredHour: { hour: string; births: number }[] };
  /** The latest registered cases (of one Standesamt). */
  casesWhere(scope: { standesamt?: string }, limit: number): CaseRow[];
  /** How many cases were erased. */
  erasedCount(): number;
  /**
   * A hand-off the scheduler holds back because the recipient's certificate is unusable
   * (missing, expired, revoked), or released (`reason` undefined). Not from the log: the
   * scheduler reports it again after a restart, so it lives only as long as this store is open.
   */
  holdBack(caseId: string, role: string, reason: string | undefined): void;
  heldBackReason(caseId: string, role: string): string | undefined;
  /** The milestones the recipient reported for a hand-off, in log order. */
  milestonesOf(deliveryId: string): MilestoneRow[];
  /** The milestones of all hand-offs of a case, in log order. */
  milestonesOfCase(caseId: string): MilestoneRow[];
  /** The case a tracking code (as printed) stands for, while it is not revoked. */
  caseOfTrackingCode(code: string): string | undefined;
  close(): void;
}

/** How long the protocol of an erased case's hand-offs is kept (§ 9 IDNrG: two years). */
const protocolYears = 2;

/**
 * `trackingKey`: the hub secret of tracking codes (tracking/trackingCode.ts); without it no
 * code is projected and none is found.
 */
export function openProjectionStore(file: string, idnrKey: Buffer, trackingKey?: Buffer): ProjectionStore {
  if (file !== ':memory:') preparePrivateDatabaseFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Rebuildable from the log: durability of the last batch does not matter.
  db.pragma('synchronous = NORMAL');
  // An erased case's rows are overwritten, not merely unlinked (free pages keep old bytes otherwise).
  db.pragma('secure_delete = ON');
  db.exec(schema);
  // Held-back hand-offs (recipient certificate): the scheduler's knowledge, for this process only.
  db.exec('CREATE TEMP TABLE IF NOT EXISTS holds (case_id TEXT NOT NULL, role TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (case_id, role)) WITHOUT ROWID');
  const metaGet = db.prepare('SELECT value FROM meta WHERE key = ?');
  const metaSet = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  const version = (metaGet.get('schema') as { value: string } | undefined)?.value;
  // Why the projections were dropped at this opening, to be projected again from the log (the read side says so).
  let dropped: string | undefined;
  if (version !== undefined && version !== schemaVersion) {
    dropped = `the file's tables are of version ${version}, this hub's are of version ${schemaVersion}`;
    // Columns added since (the decision deadlines): the rows are rebuilt from the log below.
    const columns = new Set((db.prepare('PRAGMA table_info(handoffs)').all() as { name: string }[]).map((c) => c.name));
    for (const c of ['decided_at', 'decision_overdue_at', 'decision_escalated_at', 'received_at']) if (!columns.has(c)) db.exec(`ALTER TABLE handoffs ADD COLUMN ${c} TEXT`);
    for (const t of ['cases', 'handoffs', 'ids', 'persons', 'checkpoints', 'erasure_notices', 'milestones', 'tracking', 'meta']) db.exec(`DELETE FROM ${t}`);
  }
  // A file written before erasures were projected may hold erased cases' rows: rebuilt from the log.
  if (version === '1') for (const t of ['erased', 'protocol']) db.exec(`DELETE FROM ${t}`);
  metaSet.run('schema', schemaVersion);
  // Milestones and tracking codes came later: a file projected without them is rebuilt from the log.
  if (trackingKey && (metaGet.get('tracking') as { value: string } | undefined)?.value !== '1') {
    const had = Number((metaGet.get('position') as { value: string } | undefined)?.value ?? 0);
    if (had > 0) dropped ??= 'the file was projected without tracking codes';
    for (const t of ['cases', 'handoffs', 'ids', 'persons', 'checkpoints', 'erasure_notices', 'milestones', 'tracking']) db.exec(`DELETE FROM ${t}`);
    metaSet.run('position', '0');
    metaSet.run('tracking', '1');
  }
  let position = Number((metaGet.get('position') as { value: string } | undefined)?.value ?? 0);

  const hash = (idnr: string) => createHmac('sha256', idnrKey).update(idnr).digest();
  const s = {
    insertCase: db.prepare(`INSERT INTO cases (case_id, register_key, standesamt, registered_at, birth_date, consent, consent_withdrawn_at, idnr_known, erased_at)
      VALUES (@caseId, @registerKey, @standesamt, @at, @birthDate, @consent, NULL, @idnrKnown, NULL)
      ON CONFLICT (case_id) DO UPDATE SET consent = excluded.consent, birth_date = excluded.birth_date, idnr_known = MAX(idnr_known, excluded.idnr_known)`),
    withdraw: db.prepare('UPDATE cases SET consent_withdrawn_at = COALESCE(consent_withdrawn_at, ?) WHERE case_id = ?'),
    idnrKnown: db.prepare('UPDATE cases SET idnr_known = 1 WHERE case_id = ?'),
    person: db.prepare('INSERT OR IGNORE INTO persons (idnr_hash, case_id) VALUES (?, ?)'),
    id: db.prepare('INSERT OR IGNORE INTO ids (id, kind, case_id, delivery_id, position, type) VALUES (?, ?, ?, ?, ?, ?)'),
    schedule: db.prepare(`INSERT OR IGNORE INTO handoffs (delivery_id, case_id, recipient, recipient_name, role, kind, legal_basis, purpose, data_set, scheduled_at, scheduled_position)
      VALUES (@deliveryId, @caseId, @recipient, @recipientName, @role, @handOffKind, @legalBasis, @purpose, @dataSet, @at, @position)`),
    answer: db.prepare('UPDATE handoffs SET outcome = ?, answered_at = ?, reason = ?, received_at = ? WHERE delivery_id = ? AND outcome IS NULL'),
    overdue: db.prepare('UPDATE handoffs SET overdue_at = COALESCE(overdue_at, ?) WHERE delivery_id = ?'),
    escalated: db.prepare('UPDATE handoffs SET escalated_at = COALESCE(escalated_at, ?) WHERE delivery_id = ?'),
    decisionOverdue: db.prepare('UPDATE handoffs SET decision_overdue_at = COALESCE(decision_overdue_at, ?) WHERE delivery_id = ?'),
    decisionEscalated: db.prepare('UPDATE handoffs SET decision_escalated_at = COALESCE(decision_escalated_at, ?) WHERE delivery_id = ?'),
    decided: db.prepare('UPDATE handoffs SET decided_at = COALESCE(decided_at, ?) WHERE delivery_id = ?'),
    undecided: db.prepare(`SELECT ${handOffCols} FROM handoffs WHERE outcome = 'acknowledged' AND decided_at IS NULL AND decision_escalated_at IS NULL AND answered_at <= ? ORDER BY answered_at LIMIT ?`),
    checkpoint: db.prepare('INSERT OR IGNORE INTO checkpoints (tree_size, position, at) VALUES (?, ?, ?)'),
    caseById: db.prepare(`SELECT ${caseCols} FROM cases WHERE case_id = ?`),
    handOffsOf: db.prepare(`SELECT ${handOffCols} FROM handoffs WHERE case_id = ? ORDER BY scheduled_position`),
    handOff: db.prepare(`SELECT ${handOffCols} FROM handoffs WHERE delivery_id = ?`),
    lookUp: db.prepare('SELECT id, kind, case_id AS caseId, delivery_id AS deliveryId, position, type FROM ids WHERE id = ?'),
    casesOfPerson: db.prepare(`SELECT ${caseCols} FROM cases WHERE case_id IN (SELECT case_id FROM persons WHERE idnr_hash = ?)`),
    open: db.prepare(`SELECT ${handOffCols} FROM handoffs WHERE outcome IS NULL AND scheduled_at <= ? ORDER BY scheduled_at LIMIT ?`),
    erase: db.prepare('INSERT OR IGNORE INTO erased (case_id, erased_at, reason, position) VALUES (?, ?, ?, ?)'),
    keepProtocol: db.prepare(`INSERT INTO protocol (idnr_hash, case_id, recipient, recipient_name, sender, at, legal_basis, purpose, data_set)
      SELECT p.idnr_hash, h.case_id, h.recipient, h.recipient_name, 'Standesamt ' || c.standesamt || ' via elfe-hub', h.scheduled_at, h.legal_basis, h.purpose, h.data_set
      FROM handoffs h JOIN persons p ON p.case_id = h.case_id JOIN cases c ON c.case_id = h.case_id WHERE h.case_id = ? AND h.scheduled_at >= ?`),
    pruneProtocol: db.prepare('DELETE FROM protocol WHERE at < ?'),
    dropRegisterKeyIds: db.prepare("DELETE FROM ids WHERE case_id = ? AND kind = 'register-key'"),
    markErasedIds: db.prepare("UPDATE ids SET kind = 'erased' WHERE case_id = ?"),
    dropHandOffs: db.prepare('DELETE FROM handoffs WHERE case_id = ?'),
    dropPersons: db.prepare('DELETE FROM persons WHERE case_id = ?'),
    dropCase: db.prepare('DELETE FROM cases WHERE case_id = ?'),
    erasedCase: db.prepare('SELECT case_id AS caseId, erased_at AS erasedAt, reason FROM erased WHERE case_id = ?'),
    noticeTold: db.prepare('INSERT INTO erasure_notices (notice_id, case_id, recipient, told_at) VALUES (?, ?, ?, ?) ON CONFLICT (notice_id) DO UPDATE SET told_at = COALESCE(told_at, excluded.told_at)'),
    noticeConfirmed: db.prepare('INSERT INTO erasure_notices (notice_id, case_id, recipient, confirmed_at) VALUES (?, ?, ?, ?) ON CONFLICT (notice_id) DO UPDATE SET confirmed_at = COALESCE(confirmed_at, excluded.confirmed_at)'),
    noticesOf: db.prepare('SELECT recipient, told_at AS toldAt, confirmed_at AS confirmedAt FROM erasure_notices WHERE case_id = ? ORDER BY recipient'),
    milestone: db.prepare(`INSERT OR IGNORE INTO milestones (message_id, delivery_id, case_id, recipient, status, code, reported_at, at, position)
      VALUES (@messageId, @deliveryId, @caseId, @recipient, @status, @code, @reportedAt, @at, @position)`),
    milestonesOf: db.prepare(`SELECT ${milestoneCols} FROM milestones WHERE delivery_id = ? ORDER BY position`),
    milestonesOfCase: db.prepare(`SELECT ${milestoneCols} FROM milestones WHERE case_id = ? ORDER BY position`),
    dropMilestones: db.prepare('DELETE FROM milestones WHERE case_id = ?'),
    trackingAdd: db.prepare('INSERT OR IGNORE INTO tracking (code_digest, case_id, generation, revoked_at) VALUES (?, ?, ?, NULL)'),
    trackingRevoke: db.prepare('UPDATE tracking SET revoked_at = ? WHERE case_id = ? AND revoked_at IS NULL'),
    trackingGenerations: db.prepare('SELECT COUNT(*) AS n FROM tracking WHERE case_id = ?'),
    trackingCase: db.prepare('SELECT case_id AS caseId FROM tracking WHERE code_digest = ? AND revoked_at IS NULL'),
    dropTracking: db.prepare('DELETE FROM tracking WHERE case_id = ?'),
    hold: db.prepare('INSERT OR REPLACE INTO holds (case_id, role, reason) VALUES (?, ?, ?)'),
    release: db.prepare('DELETE FROM holds WHERE case_id = ? AND role = ?'),
    holdReason: db.prepare('SELECT reason FROM holds WHERE case_id = ? AND role = ?'),
    protocolOfPerson: db.prepare(`SELECT case_id AS caseId, recipient, recipient_name AS recipientName, sender, at, legal_basis AS legalBasis, purpose, data_set AS dataSet
      FROM protocol WHERE idnr_hash = ? ORDER BY at`),
  };

  const twoYearsBefore = (at: string) => {
    const d = new Date(at);
    d.setUTCFullYear(d.getUTCFullYear() - protocolYears);
    return d.toISOString();
  };

  const applyOne = (f: ReadFact): void => {
    switch (f.kind) {
      case 'registered':
      case 'corrected':
        s.insertCase.run({ caseId: f.caseId, registerKey: f.registerKey, standesamt: f.standesamt, at: f.at, birthDate: f.birthDate, consent: f.consent ? 1 : 0, idnrKnown: f.idnrs.length >= 2 ? 1 : 0 });
        // The first tracking code of the case (generation 0), by its digest.
        if (trackingKey && f.kind === 'registered') s.trackingAdd.run(trackingDigest(trackingCodeOf(trackingKey, f.caseId, 0)), f.caseId, 0);
        for (const idnr of f.idnrs) s.person.run(hash(idnr), f.caseId);
        s.id.run(f.caseId, 'case', f.caseId, null, f.position, 'birth case');
        s.id.run(f.registerKey, 'register-key', f.caseId, null, f.position, 'Geburtenregister key');
        s.id.run(f.messageId, 'message', f.caseId, null, f.position, f.kind === 'registered' ? 'BirthRegistered' : 'BirthRegistrationCorrected');
        return;
      case 'consent-withdrawn':
        s.withdraw.run(f.at, f.caseId);
        s.id.run(f.messageId, 'message', f.caseId, null, f.position, 'ParentalConsentWithdrawn');
        return;
      case 'idnr-assigned':
        s.idnrKnown.run(f.caseId);
        for (const idnr of f.idnrs) s.person.run(hash(idnr), f.caseId);
        s.id.run(f.messageId, 'message', f.caseId, null, f.position, 'ChildIdNrAssigned');
        return;
      case 'scheduled':
        s.schedule.run({ ...f });
        s.id.run(f.deliveryId, 'delivery', f.caseId, f.deliveryId, f.position, 'DeliveryScheduled');
        return;
      case 'acknowledged':
      case 'rejected':
      case 'dead-lettered': {
        s.answer.run(f.kind === 'dead-lettered' ? 'dead-letter' : f.kind, f.at, f.reason ?? null, f.receivedAt ?? null, f.deliveryId);
        const h = s.handOff.get(f.deliveryId) as HandOffRow | undefined;
        const type = f.kind === 'acknowledged' ? 'DeliveryAcknowledged' : f.kind === 'rejected' ? 'DeliveryRejected' : 'DeliveryDeadLettered';
        s.id.run(f.messageId, f.kind === 'dead-lettered' ? 'message' : 'receipt', h?.caseId ?? null, f.deliveryId, f.position, type);
        return;
      }
      case 'overdue':
      case 'escalated': {
        if (f.step === 'decide') (f.kind === 'overdue' ? s.decisionOverdue : s.decisionEscalated).run(f.at, f.deliveryId);
        else (f.kind === 'overdue' ? s.overdue : s.escalated).run(f.at, f.deliveryId);
        const h = s.handOff.get(f.deliveryId) as HandOffRow | undefined;
        s.id.run(f.messageId, 'message', h?.caseId ?? null, f.deliveryId, f.position, f.kind === 'overdue' ? 'HandOffOverdue' : 'HandOffEscalated');
        return;
      }
      case 'checkpoint':
        s.checkpoint.run(f.treeSize, f.position, f.at);
        s.id.run(f.messageId, 'checkpoint', null, null, f.position, 'LogCheckpointSigned');
        s.id.run(`checkpoint:${f.treeSize}`, 'checkpoint', null, null, f.position, 'LogCheckpointSigned');
        return;
      case 'security':
        s.id.run(f.messageId, 'message', null, null, f.position, 'SecurityEventRecorded');
        return;
      case 'milestone': {
        const h = s.handOff.get(f.deliveryId) as HandOffRow | undefined;
        // Bewilligt or abgelehnt is the decision; ausgezahlt implies one.
        if (f.status !== 'in-bearbeitung') s.decided.run(f.at, f.deliveryId);
        s.milestone.run({ messageId: f.messageId, deliveryId: f.deliveryId, caseId: h?.caseId ?? null, recipient: f.recipient, status: f.status, code: f.code ?? null, reportedAt: f.reportedAt, at: f.at, position: f.position });
        s.id.run(f.messageId, 'message', h?.caseId ?? null, f.deliveryId, f.position, 'HandOffMilestone');
        return;
      }
      case 'tracking-revoked': {
        s.id.run(f.messageId, 'message', f.caseId, null, f.position, 'TrackingCodeRevoked');
        if (!trackingKey) return;
        // The revoked code shows nothing any more; the next generation's code replaces it.
        s.trackingRevoke.run(f.at, f.caseId);
        const generation = (s.trackingGenerations.get(f.caseId) as { n: number }).n;
        s.trackingAdd.run(trackingDigest(trackingCodeOf(trackingKey, f.caseId, generation)), f.caseId, generation);
        return;
      }
      case 'erased': {
        // One transaction with the position: the protocol keeps its part, everything else of the case goes.
        const cutoff = twoYearsBefore(f.erasedAt);
        if (s.erase.run(f.caseId, f.erasedAt, f.reason, f.position).changes > 0) s.keepProtocol.run(f.caseId, cutoff);
        s.pruneProtocol.run(cutoff);
        s.dropRegisterKeyIds.run(f.caseId);
        s.markErasedIds.run(f.caseId);
        s.dropHandOffs.run(f.caseId);
        s.dropMilestones.run(f.caseId);
        s.dropTracking.run(f.caseId);
        s.dropPersons.run(f.caseId);
        s.dropCase.run(f.caseId);
        s.id.run(f.messageId, 'erased', f.caseId, null, f.position, 'CaseErased');
        return;
      }
      case 'erasure-notice':
        s.noticeTold.run(f.noticeId, f.caseId, f.recipient, f.at);
        s.id.run(f.messageId, 'erased', f.caseId, null, f.position, 'ErasureNoticeScheduled');
        return;
      case 'erasure-confirmed':
        s.noticeConfirmed.run(f.noticeId, f.caseId, f.recipient, f.at);
        s.id.run(f.messageId, 'erased', f.caseId, null, f.position, 'ErasureConfirmed');
        return;
      default:
        // Every fact has its case: a new kind fails the typecheck here instead of going unprojected.
        f satisfies never;
    }
  };
  const applyBatch = db.transaction((facts: readonly ReadFact[], next: number) => {
    for (const f of facts) applyOne(f);
    metaSet.run('position', String(next));
  });

  return {
    droppedAtOpen: dropped,
    get position() {
      return position;
    },
    apply(facts, next) {
      applyBatch(facts, next);
      position = next;
      // The write-ahead log still holds the erased rows' old pages: folded into the file and emptied.
      if (file !== ':memory:' && facts.some((f) => f.kind === 'erased')) db.pragma('wal_checkpoint(TRUNCATE)');
    },
    reset() {
      db.transaction(() => {
        for (const t of ['cases', 'handoffs', 'ids', 'persons', 'checkpoints', 'erasure_notices', 'milestones', 'tracking']) db.exec(`DELETE FROM ${t}`);
        metaSet.run('position', '0');
      })();
      position = 0;
    },
    caseById: (caseId) => {
      const r = s.caseById.get(caseId) as RawCase | undefined;
      return r && toCase(r);
    },
    handOffsOf: (caseId) => s.handOffsOf.all(caseId) as HandOffRow[],
    handOff: (deliveryId) => s.handOff.get(deliveryId) as HandOffRow | undefined,
    lookUp: (id) => s.lookUp.get(id) as IdRow | undefined,
    casesOfPerson: (idnr) => (s.casesOfPerson.all(hash(idnr)) as RawCase[]).map(toCase),
    openHandOffs: (before, limit = 1000) => s.open.all(before, limit) as HandOffRow[],
    undecidedHandOffs: (before, limit = 1000) => s.undecided.all(before, limit) as HandOffRow[],
    handOffsWhere(filter, limit) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (filter.recipient) {
        where.push('recipient = ?');
        args.push(filter.recipient);
      }
      if (filter.standesamt) {
        // Case ids are keyed hashes (they name no Standesamt): by the case's row.
        where.push('case_id IN (SELECT case_id FROM cases WHERE standesamt = ?)');
        args.push(filter.standesamt);
      }
      if (filter.lateOnly) where.push(`((outcome IS NULL AND (overdue_at IS NOT NULL OR escalated_at IS NOT NULL)) OR (${decisionLate}))`);
      if (filter.outcome) {
        where.push('outcome = ?');
        args.push(filter.outcome);
      }
      const sql = `SELECT ${handOffCols} FROM handoffs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY (escalated_at IS NULL AND decision_escalated_at IS NULL), (overdue_at IS NULL AND decision_overdue_at IS NULL), scheduled_position DESC LIMIT ?`;
      return db.prepare(sql).all(...args, limit) as HandOffRow[];
    },
    birthsPerDay: (days) => db.prepare('SELECT substr(registered_at, 1, 10) AS day, COUNT(*) AS births FROM cases GROUP BY day ORDER BY day DESC LIMIT ?').all(days) as { day: string; births: number }[],
    handOffsByState: () =>
      db.prepare("SELECT COALESCE(outcome, CASE WHEN escalated_at IS NOT NULL THEN 'escalated' WHEN overdue_at IS NOT NULL THEN 'overdue' ELSE 'open' END) AS state, COUNT(*) AS count FROM handoffs GROUP BY state ORDER BY count DESC").all() as { state: string; count: number }[],
    latestCheckpoints: (limit) => db.prepare('SELECT tree_size AS treeSize, position, at FROM checkpoints ORDER BY tree_size DESC LIMIT ?').all(limit) as { treeSize: number; position: number; at: string }[],
    counts: () =>
      db
        .prepare(
          `SELECT (SELECT COUNT(*) FROM cases) AS cases, (SELECT COUNT(*) FROM handoffs) AS handOffs,
           COALESCE(SUM(outcome IS NULL AND overdue_at IS NOT NULL AND escalated_at IS NULL), 0) AS overdue,
           COALESCE(SUM(outcome IS NULL AND escalated_at IS NOT NULL), 0) AS escalated,
           COALESCE(SUM(outcome = 'dead-letter'), 0) AS deadLetters,
           COALESCE(SUM(${decisionLate} AND decision_escalated_at IS NULL), 0) AS decisionOverdue,
           COALESCE(SUM(${decisionLate} AND decision_escalated_at IS NOT NULL), 0) AS decisionEscalated
           FROM handoffs WHERE ${lateHandOff}`,
        )
        .get() as ReturnType<ProjectionStore['counts']>,
    erasedCase: (caseId) => {
      const row = s.erasedCase.get(caseId) as Omit<ErasedRow, 'recipients'> | undefined;
      return row && { ...row, recipients: s.noticesOf.all(caseId) as ErasedRow['recipients'] };
    },
    protocolOfPerson: (idnr) => s.protocolOfPerson.all(hash(idnr)) as ProtocolRow[],
    statesByRecipient(scope, relayPosition) {
      const where: string[] = [];
      const args: (string | number)[] = [relayPosition];
      if (scope.standesamt) {
        where.push('c.standesamt = ?');
        args.push(scope.standesamt);
      }
      if (scope.recipient) {
        where.push('l.recipient = ?');
        args.push(scope.recipient);
      }
      return db
        .prepare(
          `SELECT r.role AS role, CASE
             WHEN l.delivery_id IS NOT NULL AND l.outcome = 'acknowledged' AND l.decided_at IS NULL AND l.decision_escalated_at IS NOT NULL THEN 'decision-escalated'
             WHEN l.delivery_id IS NOT NULL AND l.outcome = 'acknowledged' AND l.decided_at IS NULL AND l.decision_overdue_at IS NOT NULL THEN 'decision-overdue'
             WHEN l.delivery_id IS NOT NULL THEN COALESCE(l.outcome, CASE WHEN l.escalated_at IS NOT NULL THEN 'escalated' WHEN l.overdue_at IS NOT NULL THEN 'overdue' WHEN l.scheduled_position < ? THEN 'delivered' ELSE 'scheduled' END)
             ${heldBackStates} END AS state, COUNT(*) AS count
           FROM cases c CROSS JOIN ${recipientRoles} r
           LEFT JOIN handoffs l ON l.case_id = c.case_id AND l.role = r.role
             AND l.scheduled_position = (SELECT MAX(h2.scheduled_position) FROM handoffs h2 WHERE h2.case_id = c.case_id AND h2.role = r.role)
           ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           GROUP BY r.role, state ORDER BY r.role, count DESC`,
        )
        .all(...args) as { role: string; state: string; count: number }[];
    },
    heldBack: () =>
      db
        .prepare(
          `SELECT r.role AS role, CASE ${heldBackStates} END AS state, COUNT(*) AS count
           FROM cases c CROSS JOIN ${recipientRoles} r
           WHERE NOT EXISTS (SELECT 1 FROM handoffs h WHERE h.case_id = c.case_id AND h.role = r.role)
           GROUP BY r.role, state ORDER BY r.role, count DESC`,
        )
        .all() as { role: string; state: string; count: number }[],
    births(scope, days) {
      const where = scope.standesamt ? 'WHERE standesamt = ?' : '';
      const args = scope.standesamt ? [scope.standesamt] : [];
      return {
        byBirth: db.prepare(`SELECT birth_date AS day, COUNT(*) AS births FROM cases ${where} GROUP BY day ORDER BY day DESC LIMIT ?`).all(...args, days) as { day: string; births: number }[],
        byRegisteredHour: db.prepare(`SELECT substr(registered_at, 1, 13) AS hour, COUNT(*) AS births FROM cases ${where} GROUP BY hour ORDER BY hour DESC LIMIT ?`).all(...args, days * 24) as { hour: string; births: number }[],
      };
    },
    casesWhere: (scope, limit) =>
      (db.prepare(`SELECT ${caseCols} FROM cases ${scope.standesamt ? 'WHERE standesamt = ?' : ''} ORDER BY registered_at DESC LIMIT ?`).all(...(scope.standesamt ? [scope.standesamt] : []), limit) as RawCase[]).map(toCase),
    erasedCount: () => (db.prepare('SELECT COUNT(*) AS n FROM erased').get() as { n: number }).n,
    holdBack(caseId, role, reason) {
      if (reason === undefined) s.release.run(caseId, role);
      else s.hold.run(caseId, role, reason.slice(0, 500));
    },
    heldBackReason: (caseId, role) => (s.holdReason.get(caseId, role) as { reason: string } | undefined)?.reason,
    milestonesOf: (deliveryId) => s.milestonesOf.all(deliveryId) as MilestoneRow[],
    milestonesOfCase: (caseId) => s.milestonesOfCase.all(caseId) as MilestoneRow[],
    caseOfTrackingCode: (code) => (s.trackingCase.get(trackingDigest(code)) as { caseId: string } | undefined)?.caseId,
    close: () => db.close(),
  };
}
