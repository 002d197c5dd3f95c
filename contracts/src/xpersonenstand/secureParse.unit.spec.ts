import { describe, expect, it } from 'vitest';
import { defaultLimits, secureParse } from './secureParse.ts';

const ns = 'http://xpsw.domap.de/xpsw2611';
const root = (inner: string) => `<xp:portal2StA.Geburt.081020 xmlns:xp="${ns}">${inner}</xp:portal2StA.Geburt.081020>`;
const code = (xml: string) => {
  const r = secureParse(xml);
  return r.success ? 'accepted' : r.error.code;
};

describe('secureParse: depth is counted on the real token stream', () => {
  it('refuses 70,000 nested elements whose attributes contain ">" (written "/>" so that a naive scan takes each for self-closing)', () => {
    const n = 70_000;
    const xml = root(`${'<a b="/>">'.repeat(n)}${'</a>'.repeat(n)}`);
    expect(new TextEncoder().encode(xml).length).toBeLessThan(defaultLimits.maxBytes);
    expect(code(xml)).toBe('too-deep');
  });

  it.each([
    ['">" in double quotes', (i: string) => `<a b="x>y">${i}</a>`],
    ["'>' in single quotes", (i: string) => `<a b='x>y'>${i}</a>`],
    ['"/>" in an attribute', (i: string) => `<a b="/>">${i}</a>`],
    ['a comment holding tags', (i: string) => `<a><!-- <b> <c> -->${i}</a>`],
    ['CDATA holding tags', (i: string) => `<a><![CDATA[<b><c>]]>${i}</a>`],
    ['a processing instruction holding tags', (i: string) => `<a><?pi <b> <c> ?>${i}</a>`],
  ])('counts exactly the limit with %s, and refuses one level more', (_name, wrap) => {
    // The root is level 1; wrap() adds one level per call.
    const nest = (levels: number) => {
      let inner = '';
      for (let i = 0; i < levels; i++) inner = wrap(inner);
      return root(inner);
    };
    expect(code(nest(defaultLimits.maxDepth - 1))).toBe('accepted');
    expect(code(nest(defaultLimits.maxDepth))).toBe('too-deep');
  });

  it('self-closing elements do not deepen', () => {
    expect(code(root('<a b=">"/>'.repeat(1000)))).toBe('accepted');
  });
});

describe('secureParse: byte-order mark', () => {
  it('accepts a UTF-8 BOM at the start of the document', () => {
    expect(code(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>${root('')}`)).toBe('accepted');
    expect(code(`\uFEFF${root('')}`)).toBe('accepted');
  });
  it('still refuses a BOM anywhere else before the root', () => {
    expect(code(`<?xml version="1.0"?>\uFEFF${root('')}`)).toBe('malformed');
  });
});
