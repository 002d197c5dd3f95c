import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePrivateDir, writeFileAtomic } from './atomicFile.ts';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('inbox files under umask 0', () => {
  let saved: number;
  beforeAll(() => {
    saved = process.umask(0);
  });
  afterAll(() => {
    process.umask(saved);
  });

  it('writes files 0600 into directories it creates 0700', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'elfe-inbox-'));
    const file = path.join(base, 'inbox', '2026', 'a.xml');
    writeFileAtomic(file, '<x/>');
    expect(mode(file)).toBe('600');
    expect(mode(path.join(base, 'inbox'))).toBe('700');
    expect(mode(path.join(base, 'inbox', '2026'))).toBe('700');
  });

  it('a stale temporary file left world-readable does not leak its mode', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-inbox-'));
    const file = path.join(dir, 'b.xml');
    writeFileSync(path.join(dir, `.b.xml.${process.pid}.tmp`), 'old', { mode: 0o666 });
    writeFileAtomic(file, '<x/>');
    expect(mode(file)).toBe('600');
  });

  it('ensurePrivateDir creates nested directories 0700', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'elfe-inbox-'));
    ensurePrivateDir(path.join(base, 'a', 'b'));
    expect([mode(path.join(base, 'a')), mode(path.join(base, 'a', 'b'))]).toEqual(['700', '700']);
  });
});
