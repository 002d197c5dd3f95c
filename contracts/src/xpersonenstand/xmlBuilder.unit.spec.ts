import { DOMParser, type Element } from '@xmldom/xmldom';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { el, serialize, type XmlElement } from './xmlBuilder.ts';

// Text as XML 1.0 allows it (no controls but tab, line feed, carriage return; no lone surrogates).
const xmlText = fc.string({ unit: fc.constantFrom('a', 'Z', 'ä', 'ß', '€', '😀', '&', '<', '>', '"', "'", ' ', '-', '1', ';'), maxLength: 12 });
const name = fc.constantFrom('xp:a', 'xp:b', 'c', 'd-e');
const tree: fc.Arbitrary<XmlElement> = fc.letrec<{ node: XmlElement }>((tie) => ({
  node: fc
    .tuple(
      name,
      fc.dictionary(fc.constantFrom('k', 'l', 'xmlns:m'), xmlText, { maxKeys: 2 }),
      fc.oneof(
        { depthSize: 'small' },
        fc.array(xmlText.filter((t) => t.trim() === t && t.length > 0), { maxLength: 1 }),
        fc.array(fc.oneof(tie('node'), fc.constant(undefined), fc.constant(false as const)), { maxLength: 3 }),
      ),
    )
    .map(([n, attributes, children]) => el(n, attributes, ...children)),
})).node;

/** The tree a parser reads back: names, attributes and text, without the writer's indentation. */
function readBack(e: Element): unknown {
  const attributes = Object.fromEntries(Array.from({ length: e.attributes.length }, (_, i) => [e.attributes.item(i)!.name, e.attributes.item(i)!.value]));
  const elements = Array.from({ length: e.childNodes.length }, (_, i) => e.childNodes.item(i)!).filter((c) => c.nodeType === 1) as Element[];
  return elements.length > 0 ? { name: e.tagName, attributes, children: elements.map(readBack) } : { name: e.tagName, attributes, text: e.textContent ?? '' };
}
function expected(e: XmlElement): unknown {
  const children = e.children.filter((c) => c !== undefined && c !== false);
  const elements = children.filter((c): c is XmlElement => typeof c !== 'string');
  return elements.length > 0 ? { name: e.name, attributes: e.attributes, children: elements.map(expected) } : { name: e.name, attributes: e.attributes, text: children.join('') };
}

describe('the XML writer', () => {
  it('writes what a parser reads back unchanged: names, attributes and text with &, <, > and quotes escaped', () => {
    fc.assert(
      fc.property(tree, (root) => {
        const xml = serialize(el('root', { 'xmlns:xp': 'urn:test', 'xmlns:m': 'urn:m' }, root));
        const doc = new DOMParser({ onError: (level, message) => { throw new Error(`${level}: ${message}`); } }).parseFromString(xml, 'text/xml');
        expect(readBack(doc.documentElement!.getElementsByTagName(root.name).item(0)!)).toEqual(expected(root));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves text without &, < or > as it is', () => {
    expect(serialize(el('a', { k: 'x "y"' }, 'Zoë & Łukasz <3>', el('b')))).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<a k="x &quot;y&quot;">\n  Zoë &amp; Łukasz &lt;3&gt;\n  <b/>\n</a>\n');
    expect(serialize(el('a', {}, 'plain'))).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<a>plain</a>\n');
  });
});
