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

// Most texts hold nothing to escape: they are returned as they are, after one test.
const textSpecial = /[&<>]/;
const attrSpecial = /[&<>"]/;
const escapeText = (s: string) => (textSpecial.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s);
const escapeAttr = (s: string) => (attrSpecial.test(s) ? escapeText(s).replace(/"/g, '&quot;') : s);

function write(node: XmlElement, indent: string, out: string[]): void {
  let attrs = '';
  for (const [k, v] of Object.entries(node.attributes)) attrs += ` ${k}="${escapeAttr(v)}"`;
  const children: (XmlElement | string)[] = [];
  let onlyText = true;
  for (const c of node.children) {
    if (c === undefined || c === false) continue;
    children.push(c);
    if (typeof c !== 'string') onlyText = false;
  }
  if (children.length === 0) {
    out.push(`${indent}<${node.name}${attrs}/>`);
  } else if (onlyText) {
    let text = '';
    for (const c of children) text += escapeText(c as string);
    out.push(`${indent}<${node.name}${attrs}>${text}</${node.name}>`);
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
