import { describe, expect, it } from 'vitest';
import { acceptsGzip } from './server.ts';
import { parseTilePath } from './tiles.ts';

describe('C2SP tile paths: the canonical form only', () => {
  it('reads canonical hash tile and entry bundle paths', () => {
    expect(parseTilePath('0/000')).toEqual({ level: 0, index: 0, width: 256 });
    expect(parseTilePath('0/000.p/1')).toEqual({ level: 0, index: 0, width: 1 });
    expect(parseTilePath('63/x001/x234/067.p/255')).toEqual({ level: 63, index: 1234067, width: 255 });
    expect(parseTilePath('entries/x001/000')).toEqual({ level: 'entries', index: 1000, width: 256 });
  });

  it('refuses aliases and malformed paths: leading zeroes in level or width, a leading x000/ element, a full width as partial, out of range', () => {
    for (const path of ['00/000', '01/000', '0/000.p/01', '0/000.p/001', '0/000.p/0', '0/000.p/256', '0/x000/000', 'entries/x000/001', '0/x000/x001/000', '64/000', '0/00', '0/0000', '0/000/', '/0/000', '0%2F000', '0/x1/000', 'entries/000.p/', '0/001.p/1/']) {
      expect(parseTilePath(path), path).toBeUndefined();
    }
  });
});

describe('Accept-Encoding: gzip', () => {
  it('accepts gzip or * with a positive q-value, nothing else', () => {
    for (const yes of ['gzip', 'GZIP', 'gzip, identity', 'br;q=1, gzip;q=0.5', '*', 'identity, *;q=0.1', ['br', 'gzip']]) expect(acceptsGzip(yes), String(yes)).toBe(true);
    for (const no of [undefined, '', 'identity', 'br', 'gzip;q=0', 'gzip; q=0.0', 'x-gzip2']) expect(acceptsGzip(no), String(no)).toBe(false);
  });
});
