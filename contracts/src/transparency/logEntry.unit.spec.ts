import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, CanonicalJsonError } from '../canonicalJson.ts';
import { logEntryBytes, logEntryLeafHash, storedEntryBytes, storedEntryLeafHash, type LogEntry, type StoredLogEntry } from './logEntry.ts';

const text = fc.string({ unit: 'binary', maxLength: 24 });
const json = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });
const entryArb = fc.record({
  position: fc.maxSafeNat(),
  stream: text,
  streamRevision: fc.maxSafeNat(),
  eventId: text,
  type: text,
  data: json,
  metadata: json,
  recordedAt: text,
});

const asStored = (e: LogEntry): StoredLogEntry => ({ ...e, dataJson: canonicalJson(e.data), metadataJson: canonicalJson(e.metadata) });

describe('log entry bytes assembled from stored canonical parts', () => {
  it('are byte-identical to the canonicalised entry, for any JSON data and metadata', () => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        expect(Buffer.from(storedEntryBytes(asStored(entry))).equals(Buffer.from(logEntryBytes(entry)))).toBe(true);
        expect(Buffer.from(storedEntryLeafHash(asStored(entry)))).toEqual(Buffer.from(logEntryLeafHash(entry)));
      }),
      { numRuns: 2000 },
    );
  });

  it.each<[string, Partial<LogEntry>]>([
    ['escapes and control characters', { stream: 'a"b\\c\n\t\u0000\u001f\u007f', eventId: '\u2028\u2029/', type: '</script>' }],
    ['unicode beyond the BMP and combining marks', { stream: 'birth-😀', type: 'Zoë Łukasiewicz', data: { '😀': 'a\u0301', é: ['ß', '\ufb33'] } }],
    ['numbers in their shortest round-trip form', { position: 2 ** 53 - 1, streamRevision: 0, data: [-0, 1e21, 1e-7, 0.1 + 0.2, -5e-324, 333333333.33333329] }],
    ['nesting and empty containers', { data: { b: [{ y: [], x: {} }, null, true, false], a: { c: { d: { e: 'f' } } } }, metadata: {} }],
    ['scalar data and metadata', { data: 'only a string', metadata: null }],
  ])('are byte-identical for %s', (_label, override) => {
    const entry: LogEntry = { position: 7, stream: 's', streamRevision: 3, eventId: 'id', type: 'T', data: { n: 1 }, metadata: { m: 'x' }, recordedAt: '2026-12-01T00:00:00.000Z', ...override };
    expect(new TextDecoder().decode(storedEntryBytes(asStored(entry)))).toBe(new TextDecoder().decode(logEntryBytes(entry)));
  });

  it('hash the stored texts as they are: another serialisation of the same value is another leaf', () => {
    const entry: LogEntry = { position: 0, stream: 's', streamRevision: 0, eventId: 'id', type: 'T', data: { a: 1, b: 2 }, metadata: {}, recordedAt: 'now' };
    const reordered = { ...asStored(entry), dataJson: '{"b":2,"a":1}' };
    const spaced = { ...asStored(entry), dataJson: '{"a": 1, "b": 2}' };
    expect(Buffer.from(storedEntryLeafHash(reordered))).not.toEqual(Buffer.from(logEntryLeafHash(entry)));
    expect(Buffer.from(storedEntryLeafHash(spaced))).not.toEqual(Buffer.from(logEntryLeafHash(entry)));
  });

  it.each<[string, Partial<StoredLogEntry>]>([
    ['a lone surrogate in a string field', { stream: 'birth-\ud800' }],
    ['a non-finite position', { position: Number.NaN }],
    ['a revision that is not a number', { streamRevision: 'abc' as unknown as number }],
  ])('refuse %s, as canonicalisation does', (_label, override) => {
    const entry: StoredLogEntry = { position: 0, stream: 's', streamRevision: 0, eventId: 'id', type: 'T', dataJson: '{}', metadataJson: '{}', recordedAt: 'now', ...override };
    expect(() => storedEntryBytes(entry)).toThrow(CanonicalJsonError);
  });
});
