import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, CanonicalJsonError, canonicalString, isCanonicalJson, isMemberNameHeld } from './canonicalJson.ts';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonical JSON (RFC 8785)', () => {
  it('serialises the RFC 8785 § 3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 § 3.2.3 example)', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    ) as Record<string, string>;
    const order = Object.values(JSON.parse(canonicalJson(input)) as Record<string, string>);
    const keys = canonicalJson(input).match(/"[^"]*":"([^"]*)"/g)?.map((kv) => kv.split('":"')[1]?.slice(0, -1));
    expect(keys).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    expect(order).toHaveLength(7);
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['41b3de4355555555', '333333333.3333333'],
  ])('serialises the IEEE 754 value %s as %s (RFC 8785 appendix B)', (bits, text) => {
    expect(canonicalJson(fromBits(bits))).toBe(text);
  });

  it('is independent of property insertion order and nests', () => {
    expect(canonicalJson({ b: [{ y: 1, x: 2 }], a: 'ä' })).toBe('{"a":"ä","b":[{"x":2,"y":1}]}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('encodes as UTF-8', () => {
    expect([...canonicalBytes('€')]).toEqual([0x22, 0xe2, 0x82, 0xac, 0x22]);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a lone surrogate', '\ud800'],
    ['a bigint', 1n],
    ['a Date', new Date(0)],
    ['undefined in an array', [undefined]],
  ])('refuses %s', (_label, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it('leaves out properties whose value is undefined', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});

describe('isCanonicalJson', () => {
  it.each([
    ['{"a":1,"b":[true,null]}', true],
    ['"€"', true],
    ['{"b":1,"a":2}', false],
    ['{"a": 1}', false],
    ['1.0', false],
    ['"\\u20ac"', false],
    ['{"a":', false],
  ])('%s is canonical: %s', (text, canonical) => {
    expect(isCanonicalJson(text)).toBe(canonical);
  });

  it('agrees with a plain reference (sorted keys, ECMAScript JSON) on random values, and names the path of a bad one', () => {
    // Reference: sort keys by UTF-16 code units at every level, then JSON.stringify (keys are
    // never integer-like: an object would put those first whatever the order of insertion).
    const sorted = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const chars = ['a', 'Z', 'ä', '€', '\u{1F600}', '"', '\\', '\n', '\u0001', '1', 'é', '\u00e9'];
    const text = () => Array.from({ length: Math.floor(rnd() * 6) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3) return [null, true, false, 0, -0, 1e21, 5e-7, 123.456, -17][Math.floor(rnd() * 9)];
      if (r < 0.55) return text();
      if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [`k${text()}`, value(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const v = value(0);
      expect(canonicalJson(v)).toBe(JSON.stringify(sorted(v)));
    }
    expect(() => canonicalJson({ a: [1, { b: '\uD800x' }] })).toThrow(expect.objectContaining({ path: '.a[1].b' }));
    expect(() => canonicalJson({ a: { b: Number.NaN } })).toThrow(expect.objectContaining({ path: '.a.b' }));
  });
});

describe('member names held for later', () => {
  it('are field names only: keys that are data (addresses, ids, names, anything else) are never held', () => {
    const record = { registerKey: 1, 'egs:11000000': 2, 'Müller-Lüdenscheidt': 3, Schmidt: 4, '4f8a8c2e-1f5b-4f0e-9a51-0d5c1a9d2e77': 5, 'a b': 6, [`x${'y'.repeat(40)}`]: 7 };
    expect(canonicalJson(record)).toBe(JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)))));
    expect(isMemberNameHeld('registerKey')).toBe(true);
    for (const key of Object.keys(record).filter((k) => k !== 'registerKey')) expect(isMemberNameHeld(key), key).toBe(false);
  });
});

describe('key order', () => {
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  it('is the code unit order of sort(), for any keys, few (sorted in place) or many', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 24 }), (keys) => {
        // Integer-like keys come first in any object whatever their order: left out, as in the exchange's objects.
        const named = keys.filter((k) => !loneSurrogate.test(k) && !/^(0|[1-9][0-9]*)$/.test(k));
        const record = Object.fromEntries(named.map((k, i) => [k, i]));
        const order = Object.keys(JSON.parse(canonicalJson(record)) as Record<string, number>);
        expect(order).toEqual([...named].sort());
      }),
      { numRuns: 500 },
    );
  });
});

describe('canonicalString', () => {
  it('writes every string as ECMAScript JSON does: ASCII with quotes, backslashes and controls, and any other text', () => {
    for (let c = 0; c < 0x80; c++) expect(canonicalString(`a${String.fromCharCode(c)}b`)).toBe(JSON.stringify(`a${String.fromCharCode(c)}b`));
    for (const unit of ['grapheme', 'binary-ascii', 'grapheme-ascii'] as const) {
      fc.assert(
        fc.property(fc.string({ unit }), (s) => {
          expect(canonicalString(s)).toBe(JSON.stringify(s));
        }),
      );
    }
  });
});
