// What every drop folder of the exchange promises (the Standesamt's births, an agency's
// milestones): a file moves to `done/` only after the hub's answer accepted it, to `failed/`
// with `<name>.error.json` ({error: {code, message}, hint, files, at}) when it was refused or
// cannot be read, and stays in place (sent again) while the hub does not answer. Nothing is
// overwritten: a second arrival under a name already settled gets a numbered name.
// Files being written (`.tmp`, `.part`, `.swp`, dot-files, `~` files) are left alone.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Files still being written: left alone. */
export const isTemporary = (name: string): boolean => name.startsWith('.') || name.endsWith('~') || /\.(tmp|part|swp)$/i.test(name);

/** What a failure was, without its message (file system messages name paths, and paths may name register keys). */
export const errorCode = (error: unknown): string => String((error as { code?: unknown }).code ?? (error as Error).name ?? 'error').slice(0, 50);

/** Why an arrival failed, as written into its error file. */
export interface DropError {
  readonly code: string;
  readonly message: string;
  readonly path?: string;
}

/**
 * Moves one file from `fromDir` into `toDir` under its name (or `<name>.2`, `<name>.3`, … when
 * taken) and, for a failure, writes `<that name>.error.json` beside it first. Returns the paths written.
 */
export function settleFile(fromDir: string, name: string, toDir: string, at: Date, failure?: { error: DropError; hint: string } & Record<string, unknown>): string[] {
  let target = name;
  for (let n = 2; existsSync(path.join(toDir, target)) || (failure !== undefined && existsSync(path.join(toDir, `${target}.error.json`))); n++) target = `${name}.${n}`;
  const written: string[] = [];
  if (failure) {
    const errorFile = path.join(toDir, `${target}.error.json`);
    writeFileSync(errorFile, `${JSON.stringify({ ...failure, files: [name], at: at.toISOString() }, null, 2)}\n`, { flag: 'wx' });
    written.push(errorFile);
  }
  renameSync(path.join(fromDir, name), path.join(toDir, target));
  written.push(path.join(toDir, target));
  return written;
}
