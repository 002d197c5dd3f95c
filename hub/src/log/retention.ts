// Retention (§ 9 IDNrG, Art. 5 Abs. 1 lit. e DSGVO): a birth case is erased by the hub itself
// once its last hand-off (or, without one, its first entry) is older than the configured
// period, two years by default. Each erasure is a `CaseErased` entry in the log.
import type { CaseLog } from './caseLog.ts';
import { createLifecycle, type Lifecycle } from '../../../connectors/kit/lifecycle.ts';
import { createLogger } from '../../../connectors/kit/logger.ts';

export interface RetentionOptions {
  /** Days after a case's last hand-off until it is erased. */
  readonly afterLastHandoffDays: number;
  /** How often to look (default hourly). */
  readonly intervalMs?: number;
  readonly now?: () => Date;
  readonly onErased?: (stream: string) => void;
  /** Where the task runs and reports its failures (default: its own, logging on stderr). */
  readonly lifecycle?: Lifecycle;
}

const dayMs = 24 * 60 * 60 * 1000;

/** Erases every case whose retention period has elapsed; returns their streams. */
export async function eraseExpiredCases(log: CaseLog, options: Pick<RetentionOptions, 'afterLastHandoffDays' | 'now'>): Promise<string[]> {
  const now = (options.now ?? (() => new Date()))();
  const cutoff = new Date(now.getTime() - options.afterLastHandoffDays * dayMs);
  const erased: string[] = [];
  for (const row of log.keys.idleSince(cutoff)) {
    const stream = `birth-${row.caseId}`;
    // The key store's hand-off times are written a second late; the case's own stream is the
    // record. A case with an entry after the cutoff is not due yet.
    const latest = await latestEntryAt(log, stream);
    if (latest !== undefined && latest >= cutoff.toISOString()) {
      log.keys.handedOff(row.caseId, new Date(latest));
      continue;
    }
    const done = await log.erase(stream, `retention period elapsed: ${options.afterLastHandoffDays} days after the last hand-off (${row.lastHandoffAt ?? row.createdAt})`);
    if (done) erased.push(stream);
  }
  return erased;
}

async function latestEntryAt(log: CaseLog, stream: string): Promise<string | undefined> {
  let latest: string | undefined;
  for await (const e of log.readStream(stream)) if (latest === undefined || e.recordedAt > latest) latest = e.recordedAt;
  return latest;
}

export interface Retention {
  stop(): Promise<void>;
}

/** The periodic retention task of the hub: a loop of the lifecycle (a failed pass is logged, counted and tried again after the back-off). */
export function startRetention(log: CaseLog, options: RetentionOptions): Retention {
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: createLogger('hub') });
  return lifecycle.runLoop(
    'retention',
    async () => {
      for (const s of await eraseExpiredCases(log, options)) options.onErased?.(s);
    },
    { everyMs: options.intervalMs ?? 60 * 60 * 1000, firstAfterMs: 0 },
  );
}
