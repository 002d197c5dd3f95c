// The case key store's writer thread (plain JavaScript, so that it runs unchanged from the
// sources and from an installation). New case keys are inserted here, in one transaction per
// group, and their fsync (synchronous=FULL) happens here, off the hub's event loop: a birth
// waits for its key's commit, the other births meanwhile do not. Each reply names, per case,
// the key the file holds after the commit (another writer's, if it was first), or none once the
// case is erased.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('secure_delete = ON');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const insertKey = db.prepare('INSERT OR IGNORE INTO case_keys (case_id, key, created_at) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM erased_cases WHERE case_id = ?)');
const keyOf = db.prepare('SELECT key FROM case_keys WHERE case_id = ?');

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    db.transaction(() => {
      for (const k of message.keys) insertKey.run(k.caseId, Buffer.from(k.key), k.createdAt, k.caseId);
    }).immediate();
    parentPort.postMessage({ id: message.id, keys: message.keys.map((k) => keyOf.get(k.caseId)?.key ?? null) });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: { message: String(error?.message ?? error), code: error?.code } });
  }
});
