import type { z } from 'zod';
import { fail, type Result } from '../result.ts';
import { ElfeEventSchema, type ElfeEvent } from './events.ts';

/** Lifts the raw JSON of one event type from `fromVersion` to `fromVersion + 1`. */
export interface Upcaster {
  readonly type: string;
  readonly fromVersion: number;
  upcast(raw: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Upcasters of this release. An event type whose schema grows gets its version bumped
 * and an upcaster here, so that entries written by older releases stay readable.
 */
export const upcasters: readonly Upcaster[] = [];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Applies upcasters in version order until none applies. Raw input is not changed. */
export function upcast(raw: unknown, chain: readonly Upcaster[] = upcasters): unknown {
  if (!isRecord(raw)) return raw;
  let current = raw;
  for (let guard = 0; guard < 100; guard++) {
    const step = chain.find((u) => u.type === current['type'] && u.fromVersion === current['schemaVersion']);
    if (!step) return current;
    current = { ...step.upcast(current), schemaVersion: step.fromVersion + 1 };
  }
  throw new Error('upcaster chain does not terminate');
}

/** Upcasts, then validates against the current event schemas. */
export function parseEvent(raw: unknown, chain: readonly Upcaster[] = upcasters): Result<ElfeEvent, z.ZodError> {
  const parsed = ElfeEventSchema.safeParse(upcast(raw, chain));
  return parsed.success ? { success: true, data: parsed.data } : fail(parsed.error);
}
