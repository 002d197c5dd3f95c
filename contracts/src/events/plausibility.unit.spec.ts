import { describe, expect, it } from 'vitest';
import { futureDate, futureDateOf, futureTime } from './plausibility.ts';

const now = new Date('2026-12-05T21:00:00.000Z');
const minute = 60_000;

describe('plausibility against the clock', () => {
  it('a birth date is in the future only when it is later than today anywhere on earth (UTC+14), beyond the tolerance', () => {
    // 21:00 UTC is already 6 December at UTC+14: a birth on the 6th is possible.
    expect(futureDate('2026-12-06', 'd', now, 0)).toBeUndefined();
    expect(futureDate('2026-12-07', 'd', now, 0)?.code).toBe('date-in-future');
    expect(futureDate('2062-03-01', 'data.child.birth.date', now)).toMatchObject({ code: 'date-in-future', path: 'data.child.birth.date' });
  });

  it('a time with an offset is compared as the instant; without one at its earliest reading; the tolerance absorbs skew', () => {
    expect(futureTime('2026-12-05T21:04:00Z', 't', now, 5 * minute)).toBeUndefined();
    expect(futureTime('2026-12-05T21:06:00Z', 't', now, 5 * minute)?.code).toBe('date-in-future');
    expect(futureTime('2026-12-05T22:04:00+01:00', 't', now, 5 * minute)).toBeUndefined();
    // Zone-less local time: as if at UTC+14, so a Berlin evening never counts as the future.
    expect(futureTime('2026-12-06T10:00:00', 't', now, 0)).toBeUndefined();
    expect(futureTime('2026-12-07T12:00:00', 't', now, 0)?.code).toBe('date-in-future');
    expect(futureTime('not a time', 't', now, 0)).toBeUndefined();
  });

  it('checks a submission: its time, the birth date of a registration or correction, the time of a withdrawal', () => {
    const at = now.toISOString();
    expect(futureDateOf({ type: 'BirthRegistered', occurredAt: at, data: { child: { birth: { date: '2026-11-30' } } } }, now)).toBeUndefined();
    expect(futureDateOf({ type: 'BirthRegistered', occurredAt: at, data: { child: { birth: { date: '2062-03-01' } } } }, now)?.path).toBe('data.child.birth.date');
    expect(futureDateOf({ type: 'BirthRegistrationCorrected', occurredAt: at, data: { registration: { child: { birth: { date: '2062-03-01' } } } } }, now)?.path).toBe('data.registration.child.birth.date');
    expect(futureDateOf({ type: 'ParentalConsentWithdrawn', occurredAt: at, data: { withdrawnAt: '2062-01-01T00:00:00Z' } }, now)?.path).toBe('data.withdrawnAt');
    expect(futureDateOf({ type: 'ChildIdNrAssigned', occurredAt: '2062-01-01T00:00:00Z', data: {} }, now)?.path).toBe('occurredAt');
  });
});
