// Raw-byte scans of a party's directory for personal data in plain text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every regular file below `dir`. */
export function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return [];
    return stat.isDirectory() ? filesBelow(file) : stat.isFile() ? [file] : [];
  });
}

/** The files (relative) in which any of `needles` occurs as UTF-8 bytes. */
export function filesContaining(dir: string, needles: readonly string[]): string[] {
  const hits: string[] = [];
  for (const file of filesBelow(dir)) {
    const bytes = readFileSync(file);
    for (const n of needles) if (bytes.includes(Buffer.from(n, 'utf8'))) hits.push(`${path.relative(dir, file)}: ${n}`);
  }
  return hits;
}

