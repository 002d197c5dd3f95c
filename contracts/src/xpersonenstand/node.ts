// A small navigator over xmldom elements that keeps the path of every element it visits,
// so that every refusal can say where it happened. Body elements are namespaced
// (XPersonenstand), header elements are unqualified (XÖV basic message).
import type { Element, Node as DomNode } from '@xmldom/xmldom';
import { z } from 'zod';
import { isDin91379Name } from '../names.ts';
import { XmlCodecError } from './errors.ts';

const ELEMENT_NODE = 1;

export class XNode {
  constructor(
    readonly element: Element,
    readonly path: string,
    /** Namespace of the XPersonenstand body elements of this document. */
    readonly ns: string,
  ) {}

  /** First child element `xp:name` (qualified) or `name` (unqualified, `qualified = false`). */
  child(name: string, qualified = true): XNode | undefined {
    const wanted = qualified ? this.ns : null;
    for (let n: DomNode | null = this.element.firstChild; n; n = n.nextSibling) {
      if (n.nodeType !== ELEMENT_NODE) continue;
      const el = n as Element;
      if (el.localName === name && (el.namespaceURI ?? null) === wanted) {
        return new XNode(el, `${this.path}/${qualified ? 'xp:' : ''}${name}`, this.ns);
      }
    }
    return undefined;
  }

  req(name: string, qualified = true): XNode {
    const found = this.child(name, qualified);
    if (!found) throw new XmlCodecError('missing-element', `missing element ${name}`, `${this.path}/${qualified ? 'xp:' : ''}${name}`);
    return found;
  }

  text(): string {
    return (this.element.textContent ?? '').trim();
  }

  /** Non-empty text content, or a typed refusal. */
  value(): string {
    const t = this.text();
    if (!t) throw new XmlCodecError('invalid-value', 'element is empty', this.path);
    return t;
  }

  /** Text of a child element, if present. */
  optText(name: string, qualified = true): string | undefined {
    const t = this.child(name, qualified)?.text();
    return t ? t : undefined;
  }

  /** A name checked against DIN 91379. */
  name(): string {
    const t = this.value().normalize('NFC');
    if (!isDin91379Name(t)) throw new XmlCodecError('invalid-name', `name outside DIN 91379: '${t}'`, this.path);
    return t;
  }

  /** A calendar date `YYYY-MM-DD` that exists (2026-02-30 does not). */
  date(): string {
    const t = this.value();
    if (!isRealDate(t)) throw new XmlCodecError('invalid-date', `not a calendar date: '${t.slice(0, 40)}'`, this.path);
    return t;
  }

  /** Value of the unqualified `<code>` child (XÖV code types). */
  code(): string {
    return this.req('code', false).value();
  }

  fail(code: ConstructorParameters<typeof XmlCodecError>[0], message: string): never {
    throw new XmlCodecError(code, message, this.path);
  }
}

const isoDate = z.iso.date();
export function isRealDate(text: string): boolean {
  return isoDate.safeParse(text).success;
}

/** Runs a reader that refuses by throwing `XmlCodecError`; anything else is a bug and rethrown. */
export function guarded<T>(read: () => T): { success: true; data: T } | { success: false; error: XmlCodecError } {
  try {
    return { success: true, data: read() };
  } catch (error) {
    if (error instanceof XmlCodecError) return { success: false, error };
    throw error;
  }
}
