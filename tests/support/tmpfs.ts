// A small file system to fill up: a tmpfs mounted for a test (root only; elsewhere the tests
// that need one are skipped with the reason), a filler file that leaves a chosen number of
// bytes, and the unmount at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Mounts a tmpfs of `size` (e.g. `8m`) on `dir`; the reason when mounting is not permitted here. */
export function mountTmpfs(dir: string, size: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  const run = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  return run.status === 0 ? undefined : `cannot mount a tmpfs (${(run.stderr || run.error?.message || `exit ${run.status}`).trim()}): run as root (as in CI) to test a full disk`;
}

export function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Bytes left on the file system of `dir`. */
export function freeBytesOf(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** Writes `file` so that about `leaveBytes` are left on its file system. */
export function fillUpTo(file: string, leaveBytes: number): void {
  writeFileSync(file, Buffer.alloc(Math.max(0, freeBytesOf(path.dirname(file)) - leaveBytes)));
}

/** Why no tmpfs can be mounted here (undefined: it can), probed once. */
export const tmpfsRefused: string | undefined = (() => {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'elfe-mount-probe-'));
  try {
    const refused = mountTmpfs(probe, '1m');
    if (!refused) unmount(probe);
    return refused;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();
