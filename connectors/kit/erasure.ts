// An erased birth case, as an agency's connector carries it out (Art. 19 DSGVO): the hub's
// signed erasure notice names the case's deliveries to this agency by id, and inbox files are
// named by delivery id. The connector leaves a notice file without personal data for the
// agency's own system (`erasure-<noticeId>.json`: the erased delivery ids, the files removed,
// when, why, on which legal basis), then removes the hand-off copies of those deliveries. The
// notice file is written first and once, so a connector killed in between finishes the
// removal on redelivery and the notice file still names every file that was there.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ErasureNotice } from '../../contracts/index.ts';
import { writeFileAtomic } from './atomicFile.ts';

/** What the agency's system finds in its inbox for an erased case: ids, times, reasons; nothing personal. */
export interface ErasureNoticeFile {
  readonly type: 'elfe-erasure-notice';
  readonly noticeId: string;
  readonly recipient: string;
  /** The deliveries of the erased case to this agency (inbox files were named by these ids). */
  readonly erasedDeliveries: readonly string[];
  /** The inbox files of those deliveries the connector removed. */
  readonly removedFiles: readonly string[];
  /** When the hub erased the case. */
  readonly erasedAt: string;
  /** When this connector received the notice and removed the files. */
  readonly receivedAt: string;
  readonly reason: string;
  readonly legalBasis: string;
}

export const erasureNoticeFileName = (noticeId: string): string => `erasure-${noticeId}.json`;

/**
 * Removes the inbox files of the notice's deliveries (`<deliveryId><suffix>` for each suffix)
 * after writing the notice file; safe to run again for the same notice.
 */
export function eraseFromInbox(inboxDir: string, notice: ErasureNotice, suffixes: readonly string[], now: Date): { noticeFile: string; removedFiles: readonly string[] } {
  const noticeFile = path.join(inboxDir, erasureNoticeFileName(notice.noticeId));
  const candidates = notice.deliveryIds.flatMap((id) => suffixes.map((suffix) => `${id}${suffix}`));
  let written: ErasureNoticeFile;
  if (existsSync(noticeFile)) {
    written = JSON.parse(readFileSync(noticeFile, 'utf8')) as ErasureNoticeFile;
  } else {
    written = {
      type: 'elfe-erasure-notice',
      noticeId: notice.noticeId,
      recipient: notice.recipient.dvdv,
      erasedDeliveries: notice.deliveryIds,
      removedFiles: candidates.filter((f) => existsSync(path.join(inboxDir, f))),
      erasedAt: notice.erasedAt,
      receivedAt: now.toISOString(),
      reason: notice.reason,
      legalBasis: notice.legalBasis,
    };
    writeFileAtomic(noticeFile, `${JSON.stringify(written, null, 2)}\n`);
  }
  for (const f of candidates) rmSync(path.join(inboxDir, f), { force: true });
  syncDir(inboxDir);
  return { noticeFile: path.basename(noticeFile), removedFiles: written.removedFiles };
}

/** Makes removals in `dir` durable (before a receipt says they happened). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
