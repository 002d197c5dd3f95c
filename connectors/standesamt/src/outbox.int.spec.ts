import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox.ts';

const outboxModule = fileURLToPath(new URL('./outbox.ts', import.meta.url));

const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('the submitting office\'s outbox', () => {
  it('is private (0600, its WAL too), keeps the hub\'s answer, and prunes answered entries after the retention, never pending ones', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-outbox-')), 'outbox.sqlite');
    const outbox = new Outbox(file);
    outbox.add('11111111-1111-4111-8111-111111111111', '11007007/G/2026/1', '{"payload":{}}', 'BirthRegistered');
    outbox.add('22222222-2222-4222-8222-222222222222', '11007007/G/2026/2', '{"payload":{}}', 'BirthRegistered');
    outbox.add('33333333-3333-4333-8333-333333333333', '11007007/G/2026/3', '{"payload":{}}', 'BirthRegistered');
    // The first one stands: adding the same id again changes nothing.
    outbox.add('11111111-1111-4111-8111-111111111111', '11007007/G/2026/1', '{"payload":{"other":1}}', 'BirthRegistered');
    expect(outbox.pending().map((e) => e.body)).toEqual(['{"payload":{}}', '{"payload":{}}', '{"payload":{}}']);
    outbox.markAccepted('11111111-1111-4111-8111-111111111111', { position: 7, duplicate: false, routing: [{ role: 'familienkasse', status: 'waiting-for-idnr' }] });
    outbox.markRefused('22222222-2222-4222-8222-222222222222', 'not-case-owner', 'not yours');
    expect(outbox.counts()).toEqual({ pending: 1, accepted: 1, refused: 1 });
    expect(outbox.list('11007007/G/2026/1')).toMatchObject([{ status: 'accepted', position: 7, duplicate: false, routing: [{ role: 'familienkasse', status: 'waiting-for-idnr' }] }]);
    expect(outbox.status('22222222-2222-4222-8222-222222222222')).toMatchObject({ status: 'refused', code: 'not-case-owner', error: 'not yours' });
    expect(modeOf(file)).toBe('600');
    expect(modeOf(`${file}-wal`)).toBe('600');
    // Not yet: answered a moment ago.
    expect(outbox.prune(60_000)).toBe(0);
    // An hour later, with a retention of a minute: the answered ones go, the pending one stays.
    expect(outbox.prune(60_000, new Date(Date.now() + 3_600_000))).toBe(2);
    expect(outbox.list().map((e) => [e.registerKey, e.status])).toEqual([['11007007/G/2026/3', 'pending']]);
    outbox.close();
  });

  it('stores a burst of submissions in one fsync\'d commit, each once', () => {
    const outbox = new Outbox(path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-outbox-')), 'outbox.sqlite'));
    const ids = Array.from({ length: 20 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    outbox.addAll(ids.map((messageId, i) => ({ messageId, caseKey: `11007007/G/2026/${i}`, body: '{"payload":{}}', type: 'BirthRegistered' })));
    outbox.addAll([{ messageId: ids[0]!, caseKey: '11007007/G/2026/0', body: '{"payload":{"other":1}}' }]);
    expect(outbox.durableCommits).toBe(2);
    expect(outbox.pending().map((e) => e.messageId)).toEqual(ids);
    expect(outbox.pending()[0]!.body).toBe('{"payload":{}}');
    // An acceptance adds no fsync'd commit; a refusal does.
    outbox.markAccepted(ids[0]!, { position: 1, duplicate: false });
    expect(outbox.durableCommits).toBe(2);
    outbox.markRefused(ids[1]!, 'not-case-owner', 'not yours');
    expect(outbox.durableCommits).toBe(3);
    outbox.close();
  });

  it('keeps the submissions and the hub\'s answers (an acceptance written without an fsync of its own) when its process is killed with SIGKILL right after', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-outbox-')), 'outbox.sqlite');
    const script = `
      const { Outbox } = await import(${JSON.stringify(outboxModule)});
      const outbox = new Outbox(${JSON.stringify(file)});
      const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
      outbox.addAll(ids.map((messageId, i) => ({ messageId, caseKey: '11007007/G/2026/' + i, body: '{"payload":{}}', type: 'BirthRegistered' })));
      outbox.markAccepted(ids[0], { position: 7, duplicate: false, trackingCode: 'ABCD-EFGH' });
      outbox.markRefused(ids[1], 'not-case-owner', 'not yours');
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const outbox = new Outbox(file);
    expect(outbox.list().map((e) => [e.messageId.slice(0, 8), e.status, e.position, e.code, e.trackingCode])).toEqual([
      ['11111111', 'accepted', 7, null, 'ABCD-EFGH'],
      ['22222222', 'refused', null, 'not-case-owner', null],
      ['33333333', 'pending', null, null, null],
    ]);
    outbox.close();
  });
});
