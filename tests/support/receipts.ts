// An agency connector's kept receipts (`<stateDir>/receipts.sqlite`) as the tests look at them:
// the delivery ids of the committed rows, read without writing, and whether some text is still
// anywhere in the raw bytes of the database file or its WAL.
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { receiptsFileOf } from '../../connectors/kit/receiptStore.ts';

/** The delivery ids of the receipts committed in the connector's state directory, sorted. */
export function receiptIdsOf(stateDir: string): string[] {
  const db = new Database(receiptsFileOf(stateDir), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT delivery_id AS id FROM receipts ORDER BY delivery_id').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** The texts of `needles` found in the raw bytes of receipts.sqlite or its -wal. */
export function inReceiptFiles(stateDir: string, needles: readonly string[]): string[] {
  const file = receiptsFileOf(stateDir);
  const bytes = [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  return needles.filter((n) => bytes.some((b) => b.includes(Buffer.from(n, 'utf8'))));
}
