import { canonicalBytes, canonicalNumber, canonicalString } from '../canonicalJson.ts';
import { leafHash, leafHashOfText, leafHashTextOfText, type Hash, type HashText } from './merkle.ts';

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

/**
 * A log entry as a store keeps it when `data` and `metadata` are stored as their RFC 8785
 * canonical JSON text. The texts are taken as they are, never parsed: a store that holds
 * anything else than the canonical text yields another leaf.
 */
export interface StoredLogEntry {
  readonly position: number;
  readonly stream: string;
  readonly streamRevision: number;
  readonly eventId: string;
  readonly type: string;
  readonly dataJson: string;
  readonly metadataJson: string;
  readonly recordedAt: string;
}

/**
 * The text of `logEntryBytes`, assembled from the stored parts: the top-level keys in RFC 8785
 * order (UTF-16 code units: data, eventId, metadata, position, recordedAt, stream,
 * streamRevision, type), the scalars serialised as RFC 8785 does, data and metadata as stored.
 */
export function storedEntryText(entry: StoredLogEntry): string {
  return (
    `{"data":${entry.dataJson},"eventId":${canonicalString(entry.eventId, '.eventId')},"metadata":${entry.metadataJson}` +
    `,"position":${canonicalNumber(entry.position, '.position')},"recordedAt":${canonicalString(entry.recordedAt, '.recordedAt')}` +
    `,"stream":${canonicalString(entry.stream, '.stream')},"streamRevision":${canonicalNumber(entry.streamRevision, '.streamRevision')}` +
    `,"type":${canonicalString(entry.type, '.type')}}`
  );
}

const encoder = new TextEncoder();

/** `logEntryBytes` of the entry whose data and metadata have the stored canonical texts. */
export const storedEntryBytes = (entry: StoredLogEntry): Uint8Array => encoder.encode(storedEntryText(entry));

/** The leaf of a stored entry: SHA-256(0x00 ‖ the bytes as stored), without parsing them. */
export const storedEntryLeafHash = (entry: StoredLogEntry): Hash => leafHashOfText(storedEntryText(entry));

/** `storedEntryLeafHash` as a `HashText` (the audit's replay). */
export const storedEntryLeafHashText = (entry: StoredLogEntry): HashText => leafHashTextOfText(storedEntryText(entry));
