// The log holds personal data: its files are the owner's alone (0600, directories 0700),
// whatever the process umask. SQLite gives its -wal and -shm files the mode of the database
// file, so creating that file 0600 before SQLite opens it covers all three.
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

export const privateFileMode = 0o600;
export const privateDirMode = 0o700;

/** Creates `dir` and any missing parents as 0700; directories that already exist are left as they are. */
export function ensurePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: privateDirMode });
  if (first === undefined) return;
  // mkdir's mode is filtered by the umask; chmod is not.
  for (let d = target; ; d = path.dirname(d)) {
    chmodSync(d, privateDirMode);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/** Makes `file` (and its SQLite -wal/-shm companions, if present) exist with mode 0600. */
export function preparePrivateDatabaseFile(file: string): void {
  ensurePrivateDir(path.dirname(file));
  const fd = openSync(file, 'a', privateFileMode);
  try {
    fchmodSync(fd, privateFileMode);
  } finally {
    closeSync(fd);
  }
  for (const companion of [`${file}-wal`, `${file}-shm`]) {
    if (existsSync(companion)) chmodSync(companion, privateFileMode);
  }
}
