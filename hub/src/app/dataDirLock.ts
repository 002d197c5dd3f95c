// One process per data directory: a lock file with the owner's pid. A lock whose process is
// gone (killed with SIGKILL) is taken over; a live owner makes the second start refuse.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DataDirLock {
  /** The pid of a dead owner whose lock was taken over. */
  readonly tookOverFrom?: number;
  release(): void;
}

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  readonly code = 'data-dir-locked';
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDataDirLock(dir: string, owner: string): DataDirLock {
  const file = path.join(dir, `${owner}.lock`);
  let tookOverFrom: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return { ...(tookOverFrom !== undefined ? { tookOverFrom } : {}), release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new DataDirLockedError(`${dir} is in use by the ${owner} process ${pid}`);
    }
    tookOverFrom = pid;
    rmSync(file, { force: true });
  }
  throw new DataDirLockedError(`cannot lock ${dir}`);
}
