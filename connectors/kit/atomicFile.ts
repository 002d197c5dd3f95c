import { chmodSync, closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

// Inbox files carry personal data: the owner's alone (0600, directories 0700), whatever the umask.
const fileMode = 0o600;
const dirMode = 0o700;

/** Creates `dir` and any missing parents as 0700; directories that already exist are left as they are. */
export function ensurePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: dirMode });
  if (first === undefined) return;
  // mkdir's mode is filtered by the umask; chmod is not.
  for (let d = target; ; d = path.dirname(d)) {
    chmodSync(d, dirMode);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/** Directories known to exist as this process made them: not created again for every file. */
const madeDirs = new Set<string>();

/**
 * Writes a file (mode 0600) so that it is either absent or complete, and durable once this
 * returns; with `deferDirSync`, its name is durable only once `syncDirs` ran on that set (the
 * file's content is already): a batch of files then shares one fsync per directory.
 */
export function writeFileAtomic(file: string, content: string, deferDirSync?: Set<string>): void {
  const parent = path.dirname(file);
  if (!madeDirs.has(parent)) {
    ensurePrivateDir(parent);
    madeDirs.add(parent);
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', fileMode);
  } catch (error) {
    // The directory went away since (removed by hand): made again, once.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ensurePrivateDir(parent);
    fd = openSync(tmp, 'w', fileMode);
  }
  try {
    try {
      // A stale temporary file keeps its old mode under 'w'; the umask filters the one given to open.
      fchmodSync(fd, fileMode);
      const bytes = Buffer.from(content, 'utf8');
      // writeSync may write less than asked (a disk filling up): the rest, or ENOSPC.
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    // A full disk leaves no partial temporary file taking up what space is left.
    rmSync(tmp, { force: true });
    throw error;
  }
  if (deferDirSync) deferDirSync.add(parent);
  else syncDirs([parent]);
}

/** Makes the names written into these directories durable (one fsync each). */
export function syncDirs(dirs: Iterable<string>): void {
  for (const d of dirs) {
    const fd = openSync(d, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Makes an SQLite database file exist with mode 0600 (and its -wal/-shm, if there; its missing
 * directories 0700), whatever the umask, before SQLite opens it; SQLite gives the -wal and -shm
 * it creates the file's mode. Tells whether the file was created.
 */
export function preparePrivateSqliteFile(file: string): boolean {
  ensurePrivateDir(path.dirname(file));
  const created = !existsSync(file);
  const fd = openSync(file, 'a', fileMode);
  try {
    fchmodSync(fd, fileMode);
  } finally {
    closeSync(fd);
  }
  for (const companion of [`${file}-wal`, `${file}-shm`]) if (existsSync(companion)) chmodSync(companion, fileMode);
  return created;
}
