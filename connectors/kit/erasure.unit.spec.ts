import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ErasureNotice } from '../../contracts/index.ts';
import { eraseFromInbox, erasureNoticeFileName } from './erasure.ts';

const notice: ErasureNotice = {
  type: 'erasure-notice',
  noticeId: 'e1fe0001-0000-8000-8000-000000000001',
  recipient: { role: 'elterngeldstelle', dvdv: 'egs:11000000' as never, name: 'Elterngeldstelle' },
  deliveryIds: ['e1fe0001-0000-8000-8000-0000000000d1', 'e1fe0001-0000-8000-8000-0000000000d2'],
  erasedAt: '2026-11-10T10:00:00.000Z',
  reason: 'Art. 17 DSGVO: Löschung auf Antrag',
  legalBasis: 'Art. 17 DSGVO',
  logPosition: 3,
  scheduledAt: '2026-11-10T10:00:00.000Z',
};

describe('eraseFromInbox', () => {
  it("removes the notice's delivery files, keeps others, and leaves a notice file naming what it removed", () => {
    const inbox = mkdtempSync(path.join(os.tmpdir(), 'elfe-erase-inbox-'));
    for (const f of ['e1fe0001-0000-8000-8000-0000000000d1.xml', 'e1fe0001-0000-8000-8000-0000000000d1.meta.json', 'e1fe0001-0000-8000-8000-0000000000d2.xml', 'other.xml']) writeFileSync(path.join(inbox, f), 'x');
    const done = eraseFromInbox(inbox, notice, ['.xml', '.meta.json'], new Date('2026-11-10T10:00:01.000Z'));
    expect(readdirSync(inbox).sort()).toEqual([erasureNoticeFileName(notice.noticeId), 'other.xml'].sort());
    expect(done.removedFiles).toEqual(['e1fe0001-0000-8000-8000-0000000000d1.xml', 'e1fe0001-0000-8000-8000-0000000000d1.meta.json', 'e1fe0001-0000-8000-8000-0000000000d2.xml']);
    const file = JSON.parse(readFileSync(path.join(inbox, done.noticeFile), 'utf8')) as Record<string, unknown>;
    expect(file).toEqual({
      type: 'elfe-erasure-notice',
      noticeId: notice.noticeId,
      recipient: 'egs:11000000',
      erasedDeliveries: notice.deliveryIds,
      removedFiles: done.removedFiles,
      erasedAt: notice.erasedAt,
      receivedAt: '2026-11-10T10:00:01.000Z',
      reason: notice.reason,
      legalBasis: notice.legalBasis,
    });
  });

  it('run again after an interruption (notice file written, files not yet removed), it finishes and keeps the first notice file', () => {
    const inbox = mkdtempSync(path.join(os.tmpdir(), 'elfe-erase-inbox-'));
    writeFileSync(path.join(inbox, 'e1fe0001-0000-8000-8000-0000000000d1.json'), 'x');
    eraseFromInbox(inbox, notice, ['.json'], new Date('2026-11-10T10:00:01.000Z'));
    const first = readFileSync(path.join(inbox, erasureNoticeFileName(notice.noticeId)), 'utf8');
    // As if killed before the removal: the file is back.
    writeFileSync(path.join(inbox, 'e1fe0001-0000-8000-8000-0000000000d1.json'), 'x');
    const again = eraseFromInbox(inbox, notice, ['.json'], new Date('2026-11-10T11:00:00.000Z'));
    expect(existsSync(path.join(inbox, 'e1fe0001-0000-8000-8000-0000000000d1.json'))).toBe(false);
    expect(readFileSync(path.join(inbox, erasureNoticeFileName(notice.noticeId)), 'utf8')).toBe(first);
    expect(again.removedFiles).toEqual(['e1fe0001-0000-8000-8000-0000000000d1.json']);
  });
});
