// Validation against the official XSDs with Debian's xmllint (libxml2-utils), offline.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturesDir, schemaFile } from './fixtures.ts';

export const xmllintAvailable = spawnSync('xmllint', ['--version']).status === 0;

export interface XsdResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Validates the documents in one xmllint run (schema compilation is the slow part). */
export function validateAgainstXsd(schema: 'portale' | 'elterngeldstelle', documents: readonly string[]): XsdResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-xsd-'));
  try {
    const files = documents.map((doc, i) => {
      const file = path.join(dir, `doc-${i}.xml`);
      writeFileSync(file, doc);
      return file;
    });
    const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schemaFile(schema), ...files], {
      env: { ...process.env, XML_CATALOG_FILES: path.join(fixturesDir, 'catalog.xml') },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
