// A full disk under the hub's data directory (a small tmpfs mounted there; JetStream's store
// kept elsewhere): submissions are answered `unavailable` with a clear log line and a metric,
// the hub keeps running, nothing already answered is lost, the log verifies, and once space is
// freed (a filler file deleted) the next submission is accepted without a restart, and every
// accepted birth gets its deliveries scheduled.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SubmissionReply } from '../../contracts/index.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { repoRoot } from '../support/fixtures.ts';
import { fillUpTo, mountTmpfs, tmpfsRefused, unmount } from '../support/tmpfs.ts';
import { asProducer, birthOf, caseStream, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);
if (tmpfsRefused) console.warn(`skipped: ${tmpfsRefused}`);

const BERLIN = 'sta-11007007';

describe.skipIf(!natsAvailable || tmpfsRefused !== undefined)('the hub on a full disk', () => {
  let ex: LiveExchange | undefined;
  let mounted: string | undefined;
  afterAll(async () => {
    await ex?.stop();
    if (mounted) unmount(mounted);
  });

  it('answers unavailable while full, keeps what it answered, verifies, and resumes by itself when space is freed', async () => {
    ex = await startLiveExchange('diskfull', {
      beforeHub: (root) => {
        // The hub's data directory on a small tmpfs; JetStream's store stays on the ordinary disk.
        const hubDir = path.join(root, 'hub');
        const saved = path.join(root, 'hub.laid-out');
        cpSync(hubDir, saved, { recursive: true });
        rmSync(hubDir, { recursive: true, force: true });
        const refused = mountTmpfs(hubDir, '24m');
        if (refused) throw new Error(refused);
        mounted = hubDir;
        cpSync(saved, hubDir, { recursive: true });
        mkdirSync(path.join(root, 'nats-store'));
        symlinkSync(path.join(root, 'nats-store'), path.join(hubDir, 'nats'));
      },
    });
    const live = ex;
    const berlin: NatsConnection = await live.connectAs(BERLIN);
    const sta = live.party(BERLIN);
    const birth = (n: number) => birthOf('11007007', `F${n}`);
    const send = (n: number): Promise<SubmissionReply> => submit(berlin, asProducer(registered(birth(n)), sta), sta.signer);
    expect(codeOf(await send(0))).toBe('ok');

    const filler = path.join(live.hubDir, 'filler');
    fillUpTo(filler, 256 * 1024);
    const accepted: { n: number; messageId: string }[] = [];
    let refusal: SubmissionReply | undefined;
    let n = 1;
    for (; n < 2000 && !refusal; n++) {
      const reply = await send(n);
      if (reply.ok) accepted.push({ n, messageId: reply.messageId });
      else refusal = reply;
    }
    expect(refusal, 'a submission refused once the disk is full').toBeDefined();
    expect(codeOf(refusal!)).toBe('unavailable');
    expect(live.hub.running, `the hub keeps running\n${live.hub.output.slice(-4000)}`).toBe(true);
    // A few more while full: still answered, still unavailable.
    for (let i = 0; i < 3; i++) expect(codeOf(await send(n + i))).toBe('unavailable');
    const fullLines = live.hub.stderr.split('\n').filter((l) => l.includes('"event":"log.storage-full"'));
    expect(fullLines.length, live.hub.stderr.slice(-4000)).toBe(1);
    expect(JSON.parse(fullLines[0]!)).toMatchObject({ level: 50 });
    const metrics = await (await fetch(`http://127.0.0.1:${live.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^elfe_storage_full 1$/m);
    expect(Number(/^elfe_storage_full_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);

    // Space again: the next submission (what a submitter's outbox resends) is accepted, no restart.
    const pid = live.hub.pid;
    rmSync(filler);
    let again: SubmissionReply | undefined;
    await until(async () => {
      again = await send(n + 10);
      return again.ok;
    }, { what: 'a submission accepted after space was freed', timeoutMs: 20_000 });
    expect(live.hub.pid).toBe(pid);
    expect(live.hub.stderr).toMatch(/"event":"log.storage-recovered"/);
    expect((await (await fetch(`http://127.0.0.1:${live.metricsPort}/metrics`)).text()).match(/^elfe_storage_full 0$/m)).not.toBeNull();
    // The read side's projections follow the log again too.
    await until(async () => {
      const text = await (await fetch(`http://127.0.0.1:${live.metricsPort}/metrics`)).text();
      const entries = Number(/^elfe_log_entries (\d+)$/m.exec(text)?.[1]);
      return entries > 0 && Number(/^elfe_readside_position (\d+)$/m.exec(text)?.[1]) === entries;
    }, { what: 'the read side caught up with the log', timeoutMs: 20_000 });

    // Nothing answered is lost; every accepted birth gets its deliveries scheduled.
    const ids = new Set(live.log().map((r) => r.eventId));
    expect(accepted.filter((a) => !ids.has(a.messageId))).toEqual([]);
    await until(() => {
      const rows = live.log();
      return [0, ...accepted.map((a) => a.n)].every((k) => rows.some((r) => r.stream === caseStream(birth(k)) && r.type === 'DeliveryScheduled'));
    }, { what: 'every accepted birth scheduled', timeoutMs: 30_000 });

    await live.hub.kill('SIGTERM');
    const audit = spawnSync(process.execPath, [path.join(repoRoot, 'bin/elfe.js'), 'audit', 'verify', '--data', live.hubDir, '--json'], { encoding: 'utf8' });
    expect(audit.status, `${audit.stdout}\n${audit.stderr}`).toBe(0);
  }, 240_000);
});
