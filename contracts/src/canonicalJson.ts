// RFC 8785 JSON Canonicalization Scheme (JCS): the one byte encoding that every
// hash and signature of the exchange is computed over, so that all parties agree.
//
// ECMAScript's JSON serialisation of strings and numbers is exactly what JCS
// prescribes; what JCS adds is the key order (UTF-16 code units) and the
// refusal of values that have no JSON form.

export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
  readonly code = 'canonical-json';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '$'}`);
  }
}

/** Strings that RFC 8785 writes as they are, between quotes: printable ASCII but `"` and `\`. */
const printableAscii = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The RFC 8785 text of a number (ECMAScript's shortest round-trip form). */
export function canonicalNumber(value: number, path = ''): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite number', path);
  // A finite number's JSON text is its ECMAScript ToString (RFC 8785 § 3.2.2.3), without the serializer's set-up.
  return String(value);
}

/** The RFC 8785 text of a string (ECMAScript's JSON escaping); lone surrogates have none. */
export function canonicalString(value: string, path = ''): string {
  if (printableAscii.test(value)) return `"${value}"`;
  if (loneSurrogate.test(value)) throw new CanonicalJsonError('lone surrogate in string', path);
  return JSON.stringify(value);
}

function serialize(value: unknown, path: string, out: string[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      out.push(canonicalNumber(value, path));
      return;
    case 'string':
      out.push(canonicalString(value, path));
      return;
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${typeof value} has no JSON form`, path);
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      if (item === undefined) throw new CanonicalJsonError('undefined array element', `${path}[${i}]`);
      serialize(item, `${path}[${i}]`, out);
    });
    out.push(']');
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError('only plain objects can be canonicalised', path);
  }
  // Default sort compares UTF-16 code units, as RFC 8785 § 3.2.3 requires.
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  out.push('{');
  keys.forEach((key, i) => {
    if (i > 0) out.push(',');
    if (loneSurrogate.test(key)) throw new CanonicalJsonError('lone surrogate in key', path);
    out.push(JSON.stringify(key), ':');
    serialize((value as Record<string, unknown>)[key], `${path}.${key}`, out);
  });
  out.push('}');
}

/**
 * A member's `"key":`, kept for the field names seen before: the exchange's objects use a few
 * hundred names (`registerKey`, `firstNames`, …), each written thousands of times, and the
 * escaping check and the quoted text are then made once per name (a birth event canonicalises
 * in two thirds of the time). Only lowerCamelCase names of up to 40 characters are kept, at most
 * 4096: keys that are data (addresses, ids, anything personal) are written afresh every time and
 * never held.
 */
const memberPrefixes = new Map<string, string>();
const fieldName = /^[a-z][A-Za-z0-9]{0,39}$/;
function memberPrefix(key: string): string {
  const known = memberPrefixes.get(key);
  if (known !== undefined) return known;
  const prefix = `${fastString(key)}:`;
  if (memberPrefixes.size < 4096 && fieldName.test(key)) memberPrefixes.set(key, prefix);
  return prefix;
}

/** Whether a key's text is held for later (tests check what never is). */
export const isMemberNameHeld = (key: string): boolean => memberPrefixes.has(key);

/**
 * An object's keys in UTF-16 code unit order (RFC 8785 § 3.2.3; `<` on strings and the default
 * sort both compare code units). The objects of the exchange have a few keys each: sorted in
 * place by insertion, which allocates nothing, where `sort()` copies the keys into a work array
 * per object (a tenth of what the hub allocated per birth).
 */
function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** Thrown by `fastText` at anything it does not take; `serialize` then says what and where. */
const notFast = Symbol('not canonical on the fast path');
const anySurrogate = /[\uD800-\uDFFF]/;

const fastString = (value: string): string => {
  if (printableAscii.test(value)) return `"${value}"`;
  // Surrogates are rare: only a string holding one is checked for a lone one.
  if (anySurrogate.test(value) && loneSurrogate.test(value)) throw notFast;
  return JSON.stringify(value);
};

/**
 * The canonical text without paths or per-value allocations (the hot path: every hash,
 * signature and seal); anything without a JSON form throws `notFast`.
 */
function fastText(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw notFast;
      return String(value);
    case 'string':
      return fastString(value);
    case 'object':
      break;
    default:
      throw notFast;
  }
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined) throw notFast;
      text += i === 0 ? fastText(item) : `,${fastText(item)}`;
    }
    return `${text}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw notFast;
  const record = value as Record<string, unknown>;
  const keys = sortedKeys(record);
  let text = '{';
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    text += `${text.length === 1 ? '' : ','}${memberPrefix(key)}${fastText(item)}`;
  }
  return `${text}}`;
}

/** The RFC 8785 canonical text of a JSON value. Properties whose value is `undefined` are left out. */
export function canonicalJson(value: unknown): string {
  try {
    return fastText(value);
  } catch (error) {
    if (error !== notFast) throw error;
  }
  // Not canonicalisable: the careful walk names what and where (or, should the two ever
  // disagree, still gives the text).
  const out: string[] = [];
  serialize(value, '', out);
  return out.join('');
}

const encoder = new TextEncoder();

/** The RFC 8785 canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

/** Whether a JSON text is exactly the RFC 8785 canonical text of its value (false for text that does not parse). */
export function isCanonicalJson(text: string): boolean {
  try {
    return canonicalJson(JSON.parse(text)) === text;
  } catch {
    return false;
  }
}
