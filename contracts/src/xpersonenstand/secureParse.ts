// The only way XML enters the codecs: bounded in size and depth, no DTD of any kind
// (so no entity expansion and no external fetch), namespace-checked.
import { DOMParser, type Element } from '@xmldom/xmldom';
import { fail, ok, type Result } from '../result.ts';
import { XmlCodecError } from './errors.ts';

export const namespaces = {
  xpsw2511: 'http://xpsw.domap.de/xpsw2511',
  xpsw2611: 'http://xpsw.domap.de/xpsw2611',
} as const;
export type Release = '25.11' | '26.11';
const releaseOf = new Map<string, Release>([
  [namespaces.xpsw2511, '25.11'],
  [namespaces.xpsw2611, '26.11'],
]);

export interface ParseLimits {
  /** Largest accepted document in bytes (UTF-8). */
  readonly maxBytes: number;
  /** Deepest accepted element nesting. */
  readonly maxDepth: number;
}
export const defaultLimits: ParseLimits = { maxBytes: 1024 * 1024, maxDepth: 64 };

export interface ParsedDocument {
  readonly root: Element;
  readonly namespace: string;
  readonly release: Release;
  /** Local name of the root element, e.g. `portal2StA.Geburt.081020`. */
  readonly messageName: string;
}

/** End of the construct opened at `from` and closed by `close`, or -1 when it never closes. */
const endOf = (xml: string, from: number, close: string): number => {
  const at = xml.indexOf(close, from);
  return at === -1 ? -1 : at + close.length;
};

/**
 * Deepest element nesting, counted on the token stream before any parser sees the text:
 * comments, CDATA sections and processing instructions are skipped whole, and a `>` or
 * `/>` inside a quoted attribute value ends no tag. Stops as soon as `limit` is passed.
 * An unterminated construct ends the scan; the parser then refuses it as malformed.
 */
function elementDepth(xml: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt === -1) break;
    let next: number;
    if (xml.startsWith('<!--', lt)) next = endOf(xml, lt + 4, '-->');
    else if (xml.startsWith('<![CDATA[', lt)) next = endOf(xml, lt + 9, ']]>');
    else if (xml.startsWith('<?', lt)) next = endOf(xml, lt + 2, '?>');
    else if (xml.startsWith('<!', lt)) next = endOf(xml, lt + 2, '>'); // declarations are refused before
    else if (xml[lt + 1] === '/') {
      next = endOf(xml, lt + 2, '>');
      depth--;
    } else {
      let j = lt + 1;
      let quote: string | undefined;
      for (; j < xml.length; j++) {
        const c = xml[j];
        if (quote) {
          if (c === quote) quote = undefined;
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= xml.length) break;
      if (xml[j - 1] !== '/') {
        depth++;
        if (depth > max) max = depth;
        if (max > limit) return max;
      }
      next = j + 1;
    }
    if (next === -1) break;
    i = next;
  }
  return max;
}

export function secureParse(input: string, limits: ParseLimits = defaultLimits): Result<ParsedDocument, XmlCodecError> {
  if (typeof input !== 'string') return fail(new XmlCodecError('malformed', 'input is not text'));
  // A UTF-8 byte-order mark survives `readFile(…, 'utf8')`; it is allowed before the prolog only.
  const xml = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (new TextEncoder().encode(xml).length > limits.maxBytes) {
    return fail(new XmlCodecError('too-large', `document exceeds ${limits.maxBytes} bytes`));
  }
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(xml)) {
    return fail(new XmlCodecError('doctype-forbidden', 'document type declarations and entity declarations are refused'));
  }
  if (elementDepth(xml, limits.maxDepth) > limits.maxDepth) {
    return fail(new XmlCodecError('too-deep', `elements nest deeper than ${limits.maxDepth}`));
  }
  const problems: string[] = [];
  let document;
  try {
    document = new DOMParser({
      onError: (level: string, message: string) => {
        if (level !== 'warning') problems.push(message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (error) {
    return fail(new XmlCodecError('malformed', `not well-formed XML: ${String((error as Error).message ?? error).split('\n')[0]}`, '/', { cause: error }));
  }
  const root = document.documentElement;
  if (problems.length > 0 || !root) {
    return fail(new XmlCodecError('malformed', `not well-formed XML: ${(problems[0] ?? 'no root element').split('\n')[0]}`));
  }
  const namespace = root.namespaceURI ?? '';
  const release = releaseOf.get(namespace);
  if (!release) {
    return fail(new XmlCodecError('unknown-namespace', `unsupported namespace '${namespace}'`, `/${root.tagName}`));
  }
  return ok({ root, namespace, release, messageName: root.localName ?? root.tagName });
}
