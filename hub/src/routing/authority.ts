// Who may say what about a birth case (DOMAIN.md, "Who may say what"), as one pure table:
// event type × role → whether the signer must own the case and whether the case must (not)
// exist. A case belongs to the Standesamt whose Standesamtsnummer is in its register key; its
// DVDV address is `psw:<Standesamtsnummer>`. The child's IdNr comes only from the Meldebehörde
// responsible for the case (the hub's table: the Standesamt's municipality → its Meldebehörde,
// routing/routingTable.ts), and once: a different IdNr later is a conflict unless it comes as
// an explicit correction (`decideIdNr`). No clock, no I/O: the ingress reads the case stream
// and asks `decideAuthority` and `decideIdNr`.
import type { GeburtenregisterKey, Role, SubmissionType } from '../../../contracts/index.ts';
import { fail, ok, type Result } from '../../../contracts/index.ts';

/** What a role may do with one event type. */
export interface AuthorityRule {
  /**
   * `required`: the signer must be the Standesamt named in the register key;
   * `responsible-meldebehoerde`: the signer must be the Meldebehörde the hub's table names for the case.
   */
  readonly owner: 'required' | 'responsible-meldebehoerde' | 'not-required';
  /** `absent`: the case must not exist yet; `present`: it must exist. */
  readonly caseMust: 'absent' | 'present';
}

/**
 * The rules. A role not listed for a type may not submit it at all.
 *
 * A Standesamt does not send `ChildIdNrAssigned`, not even for its own case: the IdNr is
 * assigned by the Bundeszentralamt für Steuern after the Meldebehörde registered the child,
 * and the hub receives it from the Meldebehörde (DOMAIN.md). A Standesamt that learns the
 * IdNr (e.g. from a later 081021) sends it as part of its registration data, through
 * `BirthRegistrationCorrected`, where the ownership rule applies; a second path for the same
 * fact would let a Standesamt overwrite the Meldebehörde's IdNr outside that rule.
 */
export const authorityTable = {
  BirthRegistered: { standesamt: { owner: 'required', caseMust: 'absent' } },
  BirthRegistrationCorrected: { standesamt: { owner: 'required', caseMust: 'present' } },
  ParentalConsentWithdrawn: { standesamt: { owner: 'required', caseMust: 'present' } },
  ChildIdNrAssigned: { meldebehoerde: { owner: 'responsible-meldebehoerde', caseMust: 'present' } },
  /** The tracking code the Standesamt handed to the parents: only the case's Standesamt revokes it. */
  TrackingCodeRevoked: { standesamt: { owner: 'required', caseMust: 'present' } },
} as const satisfies Readonly<Record<SubmissionType, Partial<Readonly<Record<Role, AuthorityRule>>>>>;

export type AuthorityRefusalCode = 'role-not-allowed' | 'not-case-owner' | 'not-responsible' | 'unknown-case' | 'conflict';

export interface AuthorityRefusal {
  readonly code: AuthorityRefusalCode;
  readonly reason: string;
}

export interface AuthorityQuestion {
  readonly type: SubmissionType;
  readonly signer: { readonly role: Role; readonly dvdv: string };
  readonly registerKey: GeburtenregisterKey;
  /** Whether the case stream holds a `BirthRegistered`. */
  readonly caseExists: boolean;
  /** The DVDV address of the Meldebehörde responsible for the case (none: no Meldebehörde may assign its IdNr). */
  readonly responsibleMeldebehoerde?: string | undefined;
}

/** The DVDV address of the Standesamt that owns a case. */
export const caseOwner = (key: GeburtenregisterKey): string => `psw:${key.standesamtsnummer}`;

/** The rule for a type and role, if the role may submit the type at all. */
export function authorityRule(type: SubmissionType, role: Role): AuthorityRule | undefined {
  const rules: Partial<Readonly<Record<Role, AuthorityRule>>> = authorityTable[type];
  return rules[role];
}

/** Whether the signer may submit this event type for this case, and if not, why not. */
export function decideAuthority(q: AuthorityQuestion): Result<AuthorityRule, AuthorityRefusal> {
  const rule = authorityRule(q.type, q.signer.role);
  if (!rule) return fail({ code: 'role-not-allowed', reason: `a ${q.signer.role} may not submit ${q.type}` });
  switch (rule.owner) {
    case 'required':
      if (q.signer.dvdv !== caseOwner(q.registerKey)) return fail({ code: 'not-case-owner', reason: `the case belongs to ${caseOwner(q.registerKey)}, not to ${q.signer.dvdv}` });
      break;
    case 'responsible-meldebehoerde':
      if (q.responsibleMeldebehoerde === undefined || q.signer.dvdv !== q.responsibleMeldebehoerde)
        return fail({ code: 'not-responsible', reason: `the Meldebehörde responsible for Standesamt ${q.registerKey.standesamtsnummer} is ${q.responsibleMeldebehoerde ?? 'not configured'}, not ${q.signer.dvdv}` });
      break;
    case 'not-required':
      break;
    default:
      return unreachable(rule.owner);
  }
  switch (rule.caseMust) {
    case 'absent':
      return q.caseExists ? fail({ code: 'conflict', reason: 'the birth is already registered' }) : ok(rule);
    case 'present':
      return q.caseExists ? ok(rule) : fail({ code: 'unknown-case', reason: `no registered birth for this register key; ${q.type} needs one` });
    default:
      return unreachable(rule.caseMust);
  }
}

/** The IdNrs the Meldebehörde assigned to a case so far. */
export interface KnownIdNrs {
  readonly childIdNr?: string | undefined;
  readonly parent1IdNr?: string | undefined;
  readonly parent2IdNr?: string | undefined;
}

/** An IdNr submission's data (ChildIdNrAssigned). */
export interface IdNrAssignment extends KnownIdNrs {
  readonly childIdNr: string;
  readonly correction?: { readonly reason: string } | undefined;
}

/**
 * What an IdNr submission means for the case: `new` (first assignment, or IdNrs not known
 * before), `same` (nothing differs from what is known: a duplicate), `correction` (an explicit
 * correction that changes a known IdNr). A different IdNr without `correction` is a `conflict`
 * (never a silent overwrite); a correction with nothing to correct is a `conflict` too.
 */
export function decideIdNr(known: KnownIdNrs, next: IdNrAssignment): Result<'new' | 'same' | 'correction', AuthorityRefusal> {
  const fields = ['childIdNr', 'parent1IdNr', 'parent2IdNr'] as const;
  const given = fields.filter((f) => next[f] !== undefined);
  const differing = given.filter((f) => known[f] !== undefined && known[f] !== next[f]);
  const adds = given.some((f) => known[f] === undefined);
  if (next.correction) {
    if (known.childIdNr === undefined) return fail({ code: 'conflict', reason: 'no IdNr was assigned to this case yet: send an assignment, not a correction' });
    if (differing.length > 0) return ok('correction');
    return ok(adds ? 'new' : 'same');
  }
  if (differing.length > 0) return fail({ code: 'conflict', reason: `the case already has a different ${differing.join(', ')}: a change is an explicit correction with a reason` });
  return ok(adds ? 'new' : 'same');
}

function unreachable(value: never): never {
  throw new Error(`unhandled authority rule ${String(value)}`);
}
