// The tracking code of a birth case (Sendungsverfolgung): what the Standesamt hands to the
// parents with the birth certificate, so that they can see where the hand-offs stand. It is an
// HMAC under a hub secret (`<dataDir>/keys/tracking.key`, 0600) of the case's keyed id and a
// generation (the number of revocations so far): not guessable without the secret, re-printed
// the same any time, and replaced by a new one when the Standesamt revokes it. 80 bits, in four
// groups of Crockford base32 (no I, L, O, U): `K7QM-2XWP-9HDA-R4TC`.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The hub secret of tracking codes, created once (32 random bytes, 0600). */
export function trackingKey(dataDir: string): Buffer {
  const dir = path.join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'tracking.key');
  if (!existsSync(file)) {
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

/** The tracking code of a case (its keyed stream id) in a generation (0 until the first revocation). */
export function trackingCodeOf(key: Buffer, caseId: string, generation: number): string {
  const mac = createHmac('sha256', key).update(`elfe-tracking-code\n${caseId}\n${generation}`).digest();
  // 80 bits: 10 bytes, 16 base32 characters.
  let bits = 0n;
  for (const b of mac.subarray(0, 10)) bits = (bits << 8n) | BigInt(b);
  let text = '';
  for (let i = 15; i >= 0; i--) text += alphabet[Number((bits >> BigInt(i * 5)) & 31n)];
  return text.match(/.{4}/g)!.join('-');
}

/**
 * A code as a parent types it (lower case, spaces, missing or extra dashes, O for 0, I and L
 * for 1) in its printed form; undefined when it cannot be one.
 */
export function normalizeTrackingCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const plain = input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (!/^[0-9A-HJKMNP-TV-Z]{16}$/.test(plain)) return undefined;
  return plain.match(/.{4}/g)!.join('-');
}

/** What the read side stores of a code: its SHA-256 (the code itself is a bearer secret). */
export const trackingDigest = (code: string): string => createHash('sha256').update(`elfe-tracking\n${code}`).digest('hex');
