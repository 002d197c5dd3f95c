// Plausibility against the clock: nothing the Standesamt reports can have happened later than
// now. Both ends apply the same rule with the same code (`date-in-future`): the Standesamt's
// side before it signs, the hub (the authority) before it records. A small tolerance absorbs
// clock skew between the machines; dates and zone-less times are read in the most lenient
// way (the latest calendar date anywhere on earth, UTC+14), so valid input is never refused.

/** Default tolerance for clock skew between a party's machine and the hub's. */
export const defaultClockSkewMs = 5 * 60_000;

export interface FutureDateIssue {
  readonly code: 'date-in-future';
  readonly message: string;
  /** Which field: `data.child.birth.date`, `occurredAt`, the XML header's `erstellungszeitpunkt`, … */
  readonly path: string;
}

const hasOffset = (time: string) => /(Z|[+-]\d\d:?\d\d)$/i.test(time);
const latestOffsetMs = 14 * 3_600_000;

/** The latest calendar date anywhere on earth at `instant`. */
export const latestDateAt = (instant: number): string => new Date(instant + latestOffsetMs).toISOString().slice(0, 10);

/** The earliest instant a time can denote: with an offset the instant itself, without one as if at UTC+14. */
function earliestInstant(time: string): number {
  if (hasOffset(time)) return Date.parse(time);
  return Date.parse(`${time.length === 10 ? `${time}T00:00:00` : time}Z`) - latestOffsetMs;
}

/** A calendar date (`YYYY-MM-DD`) later than today anywhere on earth, beyond the tolerance. */
export function futureDate(date: string, path: string, now: Date, toleranceMs = defaultClockSkewMs): FutureDateIssue | undefined {
  const latest = latestDateAt(now.getTime() + toleranceMs);
  if (date.slice(0, 10) <= latest) return undefined;
  return { code: 'date-in-future', message: `${path} ${date.slice(0, 10)} lies in the future (latest possible date now: ${latest})`, path };
}

/** A point in time later than now, beyond the tolerance. */
export function futureTime(time: string, path: string, now: Date, toleranceMs = defaultClockSkewMs): FutureDateIssue | undefined {
  const at = earliestInstant(time);
  if (Number.isNaN(at) || at <= now.getTime() + toleranceMs) return undefined;
  return { code: 'date-in-future', message: `${path} ${time.slice(0, 40)} lies in the future (now: ${now.toISOString()}, tolerance ${Math.round(toleranceMs / 1000)} s)`, path };
}

interface Dated {
  readonly occurredAt: string;
  readonly type: string;
  readonly data: unknown;
}

/**
 * The first date of a submission that lies in the future: the time it claims to have been
 * written, the child's birth date (registration, correction), the time of a consent
 * withdrawal. Undefined when every date is plausible.
 */
export function futureDateOf(event: Dated, now: Date, toleranceMs = defaultClockSkewMs): FutureDateIssue | undefined {
  const data = event.data as {
    child?: { birth?: { date?: unknown } };
    registration?: { child?: { birth?: { date?: unknown } } };
    withdrawnAt?: unknown;
  } | null;
  const checks: (FutureDateIssue | undefined)[] = [futureTime(event.occurredAt, 'occurredAt', now, toleranceMs)];
  const birth = data?.child?.birth?.date ?? data?.registration?.child?.birth?.date;
  if (typeof birth === 'string') checks.push(futureDate(birth, event.type === 'BirthRegistrationCorrected' ? 'data.registration.child.birth.date' : 'data.child.birth.date', now, toleranceMs));
  if (typeof data?.withdrawnAt === 'string') checks.push(futureTime(data.withdrawnAt, 'data.withdrawnAt', now, toleranceMs));
  return checks.find((c) => c !== undefined);
}
