// The log holds personal data: its files are the owner's alone (0600, directories 0700),
// whatever the process umask. SQLite gives its -wal and -shm files the mode of the database
// file, so creating that file 0600 before SQLite opens it covers all three. One
// implementation for the hub and the connectors: connectors/kit/atomicFile.ts.
import { ensurePrivateDir, preparePrivateSqliteFile } from '../../../connectors/kit/atomicFile.ts';

export { ensurePrivateDir };

/** Makes `file` (and its SQLite -wal/-shm companions, if present) exist with mode 0600, its missing directories 0700. */
export function preparePrivateDatabaseFile(file: string): void {
  preparePrivateSqliteFile(file);
}
