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

/**
 * A file's bytes, or none if it was removed since it was listed (a running party renames and
 * removes its temporary files and journals; what is gone holds nothing any more).
 */
function bytesIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The files (relative) in which any of `needles` occurs as UTF-8 bytes. */
export function filesContaining(dir: string, needles: readonly string[]): string[] {
  const hits: string[] = [];
  for (const file of filesBelow(dir)) {
    const bytes = bytesIfPresent(file);
    if (!bytes) continue;
    for (const n of needles) if (bytes.includes(Buffer.from(n, 'utf8'))) hits.push(`${path.relative(dir, file)}: ${n}`);
  }
  return hits;
}

