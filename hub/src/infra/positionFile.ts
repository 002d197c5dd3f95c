// A component's durable log position in a small file of its own: written atomically (temp
// file, fsync, rename), read back at start. A position that is missing or unreadable is
// absent, never a guess.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export function readPositionFile(file: string | undefined): number | undefined {
  if (!file || !existsSync(file)) return undefined;
  const position = Number(readFileSync(file, 'utf8').trim());
  return Number.isSafeInteger(position) && position >= 0 ? position : undefined;
}

export function writePositionFile(file: string, position: number): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, String(position));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Keeps `current()` in `file`, at most every `everyMs`: a burst of advances costs one write.
 * `flush()` writes at once (on stop). Write failures are ignored: the position only says
 * where a restart may resume, and resuming earlier is always sound for its users.
 */
export function positionKeeper(file: string | undefined, current: () => number, initial: number, everyMs = 200): { advanced(): void; flush(): void } {
  let saved = initial;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!file) return;
    const now = current();
    if (now <= saved) return;
    try {
      writePositionFile(file, now);
      saved = now;
    } catch {
      // Not written: a restart resumes a little earlier.
    }
  };
  return {
    advanced() {
      if (file && !timer && current() > saved) timer = setTimeout(flush, everyMs);
    },
    flush,
  };
}
