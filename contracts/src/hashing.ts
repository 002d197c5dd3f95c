import { createHash, hash } from 'node:crypto';
import { canonicalJson } from './canonicalJson.ts';

/** SHA-256 of bytes (a string: its UTF-8 bytes) as 64 lowercase hex digits, in one call. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return hash('sha256', bytes, 'hex');
}

/**
 * SHA-256 of the RFC 8785 canonical bytes of a value: the hash every party agrees on. The
 * canonical text is hashed as UTF-8 directly, without encoding it into a buffer first.
 */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * A UUID derived from its inputs (RFC 9562 version 8, built from SHA-256). Replaying the
 * same decision yields the same id, so downstream deduplication by id holds across restarts.
 */
export function deterministicUuid(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}`);
  const b = hash.digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
