// A minimal XML writer: elements, attributes and escaped text. Enough for the messages the
// codecs write, and small enough to read in full.

export type XmlChild = XmlElement | string | undefined | false;
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlChild[];
}

export const el = (name: string, attributes: Record<string, string> = {}, ...children: XmlChild[]): XmlElement => ({
  name,
  attributes,
  children,
});

/** An element whose only content is text; omitted when the text is absent. */
export const textEl = (name: string, text: string | undefined, attributes: Record<string, string> = {}): XmlElement | undefined =>
  text === undefined ? undefined : el(name, attributes, text);

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, '&quot;');

function write(node: XmlElement, indent: string, out: string[]): void {
  const attrs = Object.entries(node.attributes)
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('');
  const children = node.children.filter((c): c is XmlElement | string => c !== undefined && c !== false);
  if (children.length === 0) {
    out.push(`${indent}<${node.name}${attrs}/>`);
  } else if (children.every((c) => typeof c === 'string')) {
    out.push(`${indent}<${node.name}${attrs}>${children.map((c) => escapeText(c as string)).join('')}</${node.name}>`);
  } else {
    out.push(`${indent}<${node.name}${attrs}>`);
    for (const c of children) {
      if (typeof c === 'string') out.push(`${indent}  ${escapeText(c)}`);
      else write(c, `${indent}  `, out);
    }
    out.push(`${indent}</${node.name}>`);
  }
}

export function serialize(root: XmlElement): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  write(root, '', out);
  return `${out.join('\n')}\n`;
}
