import { canonicalBytes } from '../canonicalJson.ts';
import { leafHash, type Hash } from './merkle.ts';

/** An entry of the log as the tree commits to it (structurally the hub's stored event). */
export interface LogEntry {
  readonly position: number;
  readonly stream: string;
  readonly streamRevision: number;
  readonly eventId: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly recordedAt: string;
}

/** The bytes a leaf commits to: RFC 8785 canonical JSON of exactly these fields. */
export function logEntryBytes(entry: LogEntry): Uint8Array {
  const { position, stream, streamRevision, eventId, type, data, metadata, recordedAt } = entry;
  return canonicalBytes({ position, stream, streamRevision, eventId, type, data, metadata, recordedAt });
}

export const logEntryLeafHash = (entry: LogEntry): Hash => leafHash(logEntryBytes(entry));
