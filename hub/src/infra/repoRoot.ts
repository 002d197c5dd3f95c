// The installation's root directory (where package.json, bin/ and .tools/ are), whether this
// code runs from the TypeScript sources or from the compiled `dist/`.
import { existsSync } from 'node:fs';
import path from 'node:path';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bin', 'elfe.js'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no elfe-hub installation above ${from}`);
  }
}

export const repoRoot: string = findRoot(import.meta.dirname);
