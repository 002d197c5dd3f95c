import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeTrackingCode, trackingCodeOf, trackingDigest, trackingKey } from './trackingCode.ts';

describe('tracking codes', () => {
  const key = randomBytes(32);
  it('80 bits in four groups of Crockford base32; the same again for the same case and generation, another for the next', () => {
    const code = trackingCodeOf(key, 'birth-abc', 0);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(trackingCodeOf(key, 'birth-abc', 0)).toBe(code);
    expect(trackingCodeOf(key, 'birth-abc', 1)).not.toBe(code);
    expect(trackingCodeOf(key, 'birth-abd', 0)).not.toBe(code);
    expect(trackingCodeOf(randomBytes(32), 'birth-abc', 0)).not.toBe(code);
    // 16 characters of 5 bits each.
    expect(code.replace(/-/g, '')).toHaveLength(16);
  });

  it('reads a code as a parent types it', () => {
    const code = trackingCodeOf(key, 'birth-x', 0);
    expect(normalizeTrackingCode(code.toLowerCase().replace(/-/g, ' '))).toBe(code);
    expect(normalizeTrackingCode('K7QM-2XWP-9HDA-R4TC')).toBe('K7QM-2XWP-9HDA-R4TC');
    expect(normalizeTrackingCode('k7qm2xwp9hdar4tc')).toBe('K7QM-2XWP-9HDA-R4TC');
    expect(normalizeTrackingCode('OOOO-IIII-LLLL-0000')).toBe('0000-1111-1111-0000');
    for (const bad of ['', 'hallo', 'K7QM-2XWP-9HDA', 'K7QM-2XWP-9HDA-R4TC-X', 'U7QM-2XWP-9HDA-R4TC', 'x'.repeat(100)]) expect(normalizeTrackingCode(bad)).toBeUndefined();
    expect(trackingDigest(code)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps its secret once, private', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-tracking-'));
    const k = trackingKey(dir);
    expect(k).toHaveLength(32);
    expect(trackingKey(dir).equals(k)).toBe(true);
    expect(statSync(path.join(dir, 'keys', 'tracking.key')).mode & 0o777).toBe(0o600);
  });
});
