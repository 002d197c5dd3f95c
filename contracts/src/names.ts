import { z } from 'zod';

// DIN 91379 (normative character set for names, "Lateinische Zeichen in Unicode").
// Allowed for names (data type C): the Latin letters of DIN 91379 (with their
// diacritics, as precomposed characters or base letter + combining marks), space and the
// punctuation of names (' , - . ` ~ and the typographic apostrophes). The set below is
// a faithful approximation built from Unicode ranges that DIN 91379 covers; it refuses
// digits, symbols, control characters and non-Latin scripts.
const letter =
  "A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u017E\u0180-\u024F\u0259\u02BB\u02BC\u1E02-\u1EF9";
const combining = '\u0302\u0303\u0304\u0307\u0308\u030C\u030D\u0323\u0326\u0327\u0328\u0331\u0332\u0335';
const punctuation = " '\\-.,`~\u00B4\u2018\u2019";
const din91379Name = new RegExp(`^[${letter}](?:[${letter}${combining}${punctuation}])*$`, 'u');

/** True when a name uses only the characters DIN 91379 allows for names. */
export function isDin91379Name(value: string): boolean {
  return value.length > 0 && value.length <= 200 && din91379Name.test(value.normalize('NFC'));
}

/** A personal or place name (DIN 91379 characters, normalised to NFC). */
export const NameSchema = z
  .string()
  .transform((s) => s.normalize('NFC').trim())
  .refine(isDin91379Name, { message: 'name outside DIN 91379 (Latin characters incl. diacritics)' });
