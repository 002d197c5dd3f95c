// Where a hand-off stands, in plain language: pure functions from projected rows (and the
// relay's position, the clock) to a status per birth case and recipient. No I/O, no clock of
// its own: `now` comes in.

export type HandOffState = 'registered' | 'scheduled' | 'delivered' | 'acknowledged' | 'rejected' | 'dead-letter' | 'held-back';

export interface CaseRow {
  readonly caseId: string;
  readonly registerKey: string;
  readonly standesamt: string;
  readonly registeredAt: string;
  readonly consent: boolean;
  readonly consentWithdrawnAt: string | null;
  readonly idnrKnown: boolean;
  readonly erasedAt: string | null;
}

export interface HandOffRow {
  readonly deliveryId: string;
  readonly caseId: string;
  /** Standesamtsnummer of the case (from its row: keyed case ids name no Standesamt); null once the row is gone. */
  readonly standesamt: string | null;
  readonly recipient: string;
  readonly recipientName: string;
  readonly role: 'elterngeldstelle' | 'familienkasse';
  readonly kind: 'initial' | 'correction';
  readonly legalBasis: string;
  readonly purpose: string;
  readonly dataSet: string;
  readonly scheduledAt: string;
  readonly scheduledPosition: number;
  readonly outcome: 'acknowledged' | 'rejected' | 'dead-letter' | null;
  readonly answeredAt: string | null;
  readonly reason: string | null;
  readonly overdueAt: string | null;
  readonly escalatedAt: string | null;
  /** When the recipient's connector stored the hand-off, as its signed receipt says (acknowledged only). */
  readonly receivedAt: string | null;
  /** When the agency's first decision milestone (bewilligt, abgelehnt, ausgezahlt) was logged. */
  readonly decidedAt: string | null;
  /** When the decision deadline after the receipt was recorded as missed, and when escalated. */
  readonly decisionOverdueAt: string | null;
  readonly decisionEscalatedAt: string | null;
}

export interface Step {
  readonly step: HandOffState | 'overdue' | 'escalated';
  readonly at: string;
}

export interface RecipientStatus {
  readonly role: 'elterngeldstelle' | 'familienkasse';
  readonly recipient?: string;
  readonly recipientName?: string;
  readonly deliveryId?: string;
  readonly kind?: 'initial' | 'correction';
  readonly state: HandOffState;
  readonly overdue: boolean;
  readonly escalated: boolean;
  /** Why it stands here, in plain language. */
  readonly why: string;
  /** DVDV address (or `hub`) of the party whose step is next; none when finished. */
  readonly nextParty?: string;
  readonly steps: Step[];
}

export interface CaseStatus {
  readonly caseId: string;
  readonly registerKey: string;
  readonly standesamt: string;
  readonly registeredAt: string;
  readonly erased: boolean;
  readonly recipients: RecipientStatus[];
}

export interface StatusContext {
  /** Log position the relay has published up to (entries below it are handed to NATS). */
  readonly relayPosition: number;
  /** Why the hub currently holds a delivery back (recipient certificate expired or revoked), by case and role. */
  readonly heldBack: (caseId: string, role: string) => string | undefined;
}

/** One hand-off's state, steps and the party whose turn it is. */
export function handOffStatus(h: HandOffRow, ctx: Pick<StatusContext, 'relayPosition'>): RecipientStatus {
  const steps: Step[] = [{ step: 'scheduled', at: h.scheduledAt }];
  const published = h.scheduledPosition < ctx.relayPosition || h.outcome !== null;
  if (published) steps.push({ step: 'delivered', at: h.scheduledAt });
  if (h.overdueAt) steps.push({ step: 'overdue', at: h.overdueAt });
  if (h.escalatedAt) steps.push({ step: 'escalated', at: h.escalatedAt });
  if (h.outcome && h.answeredAt) steps.push({ step: h.outcome, at: h.answeredAt });
  const common = { role: h.role, recipient: h.recipient, recipientName: h.recipientName, deliveryId: h.deliveryId, kind: h.kind, overdue: h.overdueAt !== null && h.outcome === null, escalated: h.escalatedAt !== null && h.outcome === null, steps };
  switch (h.outcome) {
    case 'acknowledged':
      return { ...common, state: 'acknowledged', why: `${h.recipientName} confirmed receipt with a signed receipt` };
    case 'rejected':
      return { ...common, state: 'rejected', why: `${h.recipientName} rejected the delivery (${h.reason ?? 'no reason given'})`, ...(h.standesamt ? { nextParty: `psw:${h.standesamt}` } : {}) };
    case 'dead-letter':
      return { ...common, state: 'dead-letter', why: `the exchange gave up: ${h.reason ?? 'too many delivery attempts'}; ${h.recipientName} did not take it`, nextParty: h.recipient };
    case null:
      break;
  }
  if (!published) return { ...common, state: 'scheduled', why: 'decided by routing; the hub has not yet handed it to the recipient\'s queue', nextParty: 'hub' };
  const late = h.escalatedAt ? ' (escalated: far past its deadline)' : h.overdueAt ? ' (overdue)' : '';
  return { ...common, state: 'delivered', why: `in ${h.recipientName}'s queue; waiting for its signed receipt${late}`, nextParty: h.recipient };
}

/** The status of one birth case: one entry per recipient role, held back ones with the reason. */
export function caseStatus(c: CaseRow, handOffs: readonly HandOffRow[], ctx: StatusContext): CaseStatus {
  const recipients: RecipientStatus[] = [];
  const registered: Step = { step: 'registered', at: c.registeredAt };
  for (const role of ['elterngeldstelle', 'familienkasse'] as const) {
    const mine = handOffs.filter((h) => h.role === role);
    for (const h of mine) {
      const s = handOffStatus(h, ctx);
      recipients.push({ ...s, steps: [registered, ...s.steps] });
    }
    if (mine.length > 0) continue;
    const held = (why: string, nextParty?: string): RecipientStatus => ({ role, state: 'held-back', overdue: false, escalated: false, why, ...(nextParty ? { nextParty } : {}), steps: [registered] });
    if (c.erasedAt) recipients.push(held('erased: the personal data of this case was erased'));
    else if (role === 'elterngeldstelle' && c.consentWithdrawnAt) recipients.push(held('consent withdrawn: no delivery to the Elterngeldstelle after the withdrawal'));
    else if (role === 'elterngeldstelle' && !c.consent) recipients.push(held('no consent: the parents did not consent to a notification of the Elterngeldstelle (or no Elterngeld application number)'));
    else if (role === 'familienkasse' && !c.idnrKnown) recipients.push(held('no IdNr yet: the Familienkasse needs the child\'s and the entitled parent\'s IdNr from the Meldebehörde', 'meldebehoerde'));
    else {
      const reason = ctx.heldBack(c.caseId, role);
      recipients.push(held(reason ? `recipient certificate unusable: ${reason}` : 'not yet decided by routing', reason ? 'ca' : 'hub'));
    }
  }
  return { caseId: c.caseId, registerKey: c.registerKey, standesamt: c.standesamt, registeredAt: c.registeredAt, erased: c.erasedAt !== null, recipients };
}

/** Which step's deadline (counted from `start`) has passed at `now` and is not yet recorded. */
function dueStep(start: number, withinMs: number, escalateAfterMs: number, recorded: { overdueAt: string | null; escalatedAt: string | null }, now: Date): { step: 'overdue' | 'escalated'; dueAt: string } | undefined {
  const escalateAt = start + escalateAfterMs;
  if (recorded.escalatedAt === null && now.getTime() >= escalateAt) return { step: 'escalated', dueAt: new Date(escalateAt).toISOString() };
  const overdueAt = start + withinMs;
  if (recorded.overdueAt === null && now.getTime() >= overdueAt) return { step: 'overdue', dueAt: new Date(overdueAt).toISOString() };
  return undefined;
}

/** Which decision deadline an acknowledged hand-off without a decision has passed at `now`, if any. */
export function decisionDeadlinePassed(
  h: Pick<HandOffRow, 'outcome' | 'answeredAt' | 'decidedAt' | 'decisionOverdueAt' | 'decisionEscalatedAt'>,
  limits: { decideWithinMs: number; escalateAfterMs: number },
  now: Date,
): { step: 'overdue' | 'escalated'; dueAt: string } | undefined {
  if (h.outcome !== 'acknowledged' || h.answeredAt === null || h.decidedAt !== null) return undefined;
  return dueStep(Date.parse(h.answeredAt), limits.decideWithinMs, limits.escalateAfterMs, { overdueAt: h.decisionOverdueAt, escalatedAt: h.decisionEscalatedAt }, now);
}

/** Which deadline a hand-off without an answer has passed at `now`, if any. */
export function deadlinePassed(h: Pick<HandOffRow, 'scheduledAt' | 'outcome' | 'overdueAt' | 'escalatedAt'>, limits: { acknowledgeWithinMs: number; escalateAfterMs: number }, now: Date): { step: 'overdue' | 'escalated'; dueAt: string } | undefined {
  if (h.outcome !== null) return undefined;
  return dueStep(Date.parse(h.scheduledAt), limits.acknowledgeWithinMs, limits.escalateAfterMs, h, now);
}
