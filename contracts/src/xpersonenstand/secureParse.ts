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

/** Nesting depth of the elements, by a linear scan that needs no parser. */
function elementDepth(xml: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let i = xml.indexOf('<');
  while (i !== -1) {
    const next = xml[i + 1];
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      i = end === -1 ? -1 : xml.indexOf('<', end + 3);
      continue;
    }
    if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i + 9);
      i = end === -1 ? -1 : xml.indexOf('<', end + 3);
      continue;
    }
    const close = xml.indexOf('>', i + 1);
    if (close === -1) break;
    if (next === '/') depth--;
    else if (next !== '?' && next !== '!' && xml[close - 1] !== '/') {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    }
    i = xml.indexOf('<', close + 1);
  }
  return max;
}

export function secureParse(xml: string, limits: ParseLimits = defaultLimits): Result<ParsedDocument, XmlCodecError> {
  if (typeof xml !== 'string') return fail(new XmlCodecError('malformed', 'input is not text'));
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
