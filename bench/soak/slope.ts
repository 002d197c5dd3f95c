// Least-squares slope of a resource (RSS, open file descriptors) per minute, over the samples
// of one kind of process. The soak kills and restarts processes, so the samples fall into
// segments (one per pid); each segment gets its own intercept and all share one slope (the
// within-segment estimator), so a restart's drop is not mistaken for a shrinking process.
// The first `warmupMs` of a segment (start-up, caches filling) are left out.

export interface Sample {
  readonly pid: number;
  readonly t: number; // ms since the soak started
  readonly value: number;
}

export interface SlopeResult {
  /** Units per minute; undefined when no segment holds two samples after its warm-up. */
  readonly perMinute: number | undefined;
  readonly samples: number;
  readonly segments: number;
  /** The longest segment used, in ms. */
  readonly longestMs: number;
}

/**
 * The same samples (after each lifetime's warm-up) as one line over the whole soak: whether the
 * level a process settles at climbs from one lifetime to the next (a store that grows, caches
 * loaded at start), which within-lifetime slopes over short lifetimes cannot show.
 */
export function acrossSoakPerMinute(samples: readonly Sample[], warmupMs = 10_000): number | undefined {
  const firstOf = new Map<number, number>();
  for (const s of samples) if (!firstOf.has(s.pid)) firstOf.set(s.pid, s.t);
  const kept = samples.filter((s) => s.t - firstOf.get(s.pid)! >= warmupMs).map((s) => ({ ...s, pid: 0 }));
  return slopePerMinute(kept, 0).perMinute;
}

export function slopePerMinute(samples: readonly Sample[], warmupMs = 10_000): SlopeResult {
  const byPid = new Map<number, Sample[]>();
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
  let num = 0;
  let den = 0;
  let used = 0;
  let segments = 0;
  let longestMs = 0;
  for (const list of byPid.values()) {
    const first = list[0]!.t;
    const kept = list.filter((s) => s.t - first >= warmupMs);
    if (kept.length < 2) continue;
    segments++;
    used += kept.length;
    longestMs = Math.max(longestMs, kept[kept.length - 1]!.t - kept[0]!.t);
    const tm = kept.reduce((a, s) => a + s.t, 0) / kept.length;
    const vm = kept.reduce((a, s) => a + s.value, 0) / kept.length;
    for (const s of kept) {
      num += (s.t - tm) * (s.value - vm);
      den += (s.t - tm) ** 2;
    }
  }
  return { perMinute: den > 0 ? (num / den) * 60_000 : undefined, samples: used, segments, longestMs };
}
