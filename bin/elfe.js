#!/usr/bin/env node
// Entry point of the `elfe` command. Runs the compiled JavaScript in dist/ (`npm run build`,
// which the set-up runs) when it is at least as new as every source file; otherwise, in a
// development checkout, the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// A closed pipe (`elfe … | head`) ends the command quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const root = path.resolve(import.meta.dirname, '..');
const compiled = path.join(root, 'dist', 'hub', 'src', 'cli', 'main.js');
const stamp = path.join(root, 'dist', '.built');

/** The newest modification time of the TypeScript sources (skipping tests). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(file).mtimeMs);
    }
  };
  for (const dir of ['contracts', 'hub', 'connectors']) walk(path.join(root, dir));
  return newest;
}

const fresh = existsSync(compiled) && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource();
let main;
if (fresh) {
  ({ main } = await import(pathToFileURL(compiled).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../hub/src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
