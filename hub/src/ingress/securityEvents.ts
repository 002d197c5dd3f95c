// Security events, rate limited per sender: a token bucket per verified signer (key id or
// certificate serial) and one shared bucket for senders whose signature did not verify
// (their claimed key ids cost nothing to vary). Beyond the limit an event is only counted;
// one summary event per window records how many were suppressed, so a flood of bad
// signatures cannot grow the log without bound.
import type { DetachedSignature, SecurityEventRecorded, SignerIdentity } from '../../../contracts/index.ts';
import type { EventStore } from '../log/eventStore.ts';
import { securityEvent, toRecord } from '../log/records.ts';
import { securityStream } from '../log/streams.ts';

export interface SecurityEventLimits {
  /** Events a sender may cause at once. Default 20. */
  readonly burst?: number;
  /** Events per second a sender's bucket refills. Default 1. */
  readonly refillPerSecond?: number;
  /** Window of the summary of suppressed events, in ms. Default 60 000. */
  readonly summaryEveryMs?: number;
}

export type SecuritySubject = SecurityEventRecorded['data']['subject'];
export type SecurityEventData = SecurityEventRecorded['data'];

export interface SecurityEventStats {
  securityEvents: number;
  securityEventsSuppressed: number;
}

export interface SecurityRecorder {
  /** Records the event unless `sender` is over its limit. `sender` undefined: not verified. */
  record(sender: string | undefined, data: SecurityEventData): Promise<void>;
  /** Writes the summary of the current window, if anything was suppressed, and stops the timer. */
  stop(): Promise<void>;
}

/** Who tried, as the verifier vouches for it: key id or certificate serial, DVDV, role, name. */
export function verifiedSubject(signer: SignerIdentity, signature: DetachedSignature | undefined): SecuritySubject {
  const id = signature?.certificate ? { certificateSerial: signer.keyId } : { keyId: signer.keyId };
  return { ...id, dvdv: signer.dvdv.slice(0, 100), role: signer.role, name: signer.name.slice(0, 200), verified: true };
}

/** Who claims to have tried, when the signature did not verify (attacker-controlled, so bounded). */
export function claimedSubject(signature: DetachedSignature | undefined): SecuritySubject {
  if (!signature) return { verified: false };
  const id = signature.keyId.slice(0, 100);
  return { ...(signature.certificate ? { certificateSerial: id } : { keyId: id }), verified: false };
}

/** The rate-limit bucket a sender falls in. */
export const senderOf = (signer: SignerIdentity | undefined): string | undefined => (signer ? `key:${signer.keyId}` : undefined);

const unverified = 'unverified';
const maxBuckets = 10_000;

export function startSecurityRecorder(log: EventStore, now: () => Date, stats: SecurityEventStats, limits: SecurityEventLimits = {}): SecurityRecorder {
  const burst = limits.burst ?? 20;
  const refill = limits.refillPerSecond ?? 1;
  const windowMs = limits.summaryEveryMs ?? 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let suppressed = new Map<string, number>();

  const take = (sender: string): boolean => {
    const t = now().getTime();
    let bucket = buckets.get(sender);
    if (!bucket) {
      // Verified senders are the trusted parties, so this stays small; the cap is a backstop.
      if (buckets.size >= maxBuckets) buckets.clear();
      bucket = { tokens: burst, at: t };
      buckets.set(sender, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, t - bucket.at) / 1000) * refill);
    bucket.at = t;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  const summarize = async () => {
    if (suppressed.size === 0) return;
    const window = suppressed;
    suppressed = new Map();
    const total = [...window.values()].reduce((a, b) => a + b, 0);
    const bySender = [...window.entries()].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s} ${n}`).join(', ');
    const reason = `${total} security events suppressed by the rate limit in the last ${windowMs} ms: ${bySender}`;
    await log.append(securityStream, [toRecord(securityEvent(now(), { code: 'security-events-suppressed', reason: reason.slice(0, 500), subject: {} }))]);
  };

  let summarizing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    // A failed summary keeps nothing back: the counts of that window are in the stats.
    summarizing = summarizing.then(summarize).catch(() => undefined);
  }, windowMs);
  timer.unref();

  return {
    async record(sender, data) {
      const key = sender ?? unverified;
      if (!take(key)) {
        stats.securityEventsSuppressed++;
        suppressed.set(key, (suppressed.get(key) ?? 0) + 1);
        return;
      }
      stats.securityEvents++;
      await log.append(securityStream, [toRecord(securityEvent(now(), data))]);
    },
    async stop() {
      clearInterval(timer);
      await summarizing;
      await summarize().catch(() => undefined);
    },
  };
}
