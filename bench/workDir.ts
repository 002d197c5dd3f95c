// Where the end-to-end and the beyond-one-machine probes keep the exchanges they run, and what
// making a durable file costs there. On an ext4 file system without a journal (this project's CI
// machine has one), making a file skips, one by one, every inode of its block group that was
// deleted in the last one to five minutes (the kernel's `recently_deleted`, seen with `perf`). In
// a group where files were just deleted, by other programs in /tmp or by the benchmark's own
// earlier run, a new file cost 0.20–0.55 ms of CPU, against 0.02–0.03 ms in a group where none
// were: a connector pays that once per delivery, and the figures measured the file system's recent
// past more than the exchange. So the runs keep their data in a work directory of their own,
// marked as the top of a directory hierarchy (`chattr +T`, where the file system has it) so that
// ext4 places each run's directory in a block group of its own; a run's data are removed when the
// probe ends, not after each run. The end-to-end probe measures the file floor in such a
// directory in the same run, and in /tmp beside it.
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncDirs } from '../connectors/kit/atomicFile.ts';
import { repoRoot } from '../hub/src/infra/repoRoot.ts';

const marked = new Set<string>();

/**
 * `ELFE_BENCH_DIR`, or `bench/results/work/` in the repository (ignored by git; safe to remove
 * between runs), marked `+T` for ext4's allocator (a file system without the flag ignores it).
 */
export function benchWorkDir(): string {
  const dir = process.env['ELFE_BENCH_DIR'] ?? path.join(repoRoot, 'bench', 'results', 'work');
  mkdirSync(dir, { recursive: true });
  if (!marked.has(dir)) {
    marked.add(dir);
    spawnSync('chattr', ['+T', dir], { stdio: 'ignore' });
  }
  return dir;
}

/**
 * Runs `work`, which hands the directories of its runs to `removeLater`; they are removed once it
 * has ended, however it ended.
 */
export async function removedAtEnd<T>(work: (removeLater: (dir: string) => void) => Promise<T>): Promise<T> {
  const dirs: string[] = [];
  try {
    return await work((dir) => dirs.push(dir));
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU (user + system) in µs of this process so far. */
const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/**
 * CPU ms of one core per file, as an agency connector hands a delivery over: a temporary file
 * made (0600), 3 kB written, fsync'd, renamed to its name, and one fsync of the directory per
 * 64 files. The files are made in a new directory under `parent` and left there (removing them
 * would weigh on the files made after them, see above); the caller removes `dir`.
 */
export function durableFileCpuMs(parent: string, files = 500): { readonly ms: number; readonly dir: string } {
  const dir = mkdtempSync(path.join(parent, 'elfe-bench-files-'));
  const content = Buffer.alloc(3000, 'x');
  const before = cpuMicros();
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, `${i}.xml`);
    const tmp = path.join(dir, `.${i}.xml.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      for (let at = 0; at < content.length; ) at += writeSync(fd, content, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    if (i % 64 === 63) syncDirs([dir]);
  }
  syncDirs([dir]);
  return { ms: (cpuMicros() - before) / 1000 / files, dir };
}

/** The same in the machine's temporary directory, for comparison; its files are removed at once. */
export function durableFileCpuMsInTmp(files = 500): number {
  const { ms, dir } = durableFileCpuMs(os.tmpdir(), files);
  rmSync(dir, { recursive: true, force: true });
  return ms;
}
