// The Standesamt's watch-directory mode against a real nats-server and the hub's ingress.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySetVerifier } from '../../contracts/index.ts';
import { lifecycleLogOf, StandesamtConnector, type ConnectorLog } from '../../connectors/standesamt/src/standesamtConnector.ts';
import { DropFolder, scanDirectory, watchDirectory } from '../../connectors/standesamt/src/watchDirectory.ts';
import { dropBirth, standesamt } from '../../bench/soak/soak.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';
import { createLifecycle } from '../../connectors/kit/lifecycle.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { until } from '../support/processes.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { fixturesAvailable, fixturesDir } from '../support/fixtures.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';

const tmp = (n: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${n}-`));

interface Line {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}
const recorder = () => {
  const lines: Line[] = [];
  const log: ConnectorLog = (level, event, fields) => void lines.push({ level, event, fields });
  return { lines, log };
};

describe.skipIf(!natsAvailable || !fixturesAvailable)('Standesamt watch directory', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  /** A Standesamt's connector sending to an ingress that records in a memory log, and its empty watch directory. */
  const standesamtWithIngress = () => {
    const keys = tmp('keys');
    const signer = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    const log = createMemoryEventStore();
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    const connector = new StandesamtConnector({ nc, signer, outboxFile: path.join(tmp('outbox'), 'o.sqlite') });
    const close = async () => {
      await connector.close();
      await ingress.stop();
    };
    return { log, connector, inbox: tmp('watch'), close };
  };

  it('works off a backlog in rounds: each round is sent and settled before the next, so progress survives a restart', async () => {
    const { log, connector, inbox, close } = standesamtWithIngress();
    for (const s of makeScenarios({ births: 30, seed: 7, standesaemter: [standesamt], firstEntry: 5000 })) dropBirth(inbox, s);
    const done = () => readdirSync(path.join(inbox, 'done')).filter((f) => f.endsWith('.081020.xml')).length;
    // One round of 10: those ten are registered and in done/ before anything else is read.
    const folder = new DropFolder(inbox, connector, { pairWindowMs: 0, batch: 10 });
    const first = await folder.scan();
    expect(first.filter((r) => r.outcome === 'done')).toHaveLength(10);
    expect(done()).toBe(10);
    expect(folder.more).toBe(true);
    // A watcher started afresh (the first one killed) goes on from there.
    const rest = await scanDirectory(inbox, connector, { pairWindowMs: 0, batch: 10 });
    expect(rest.filter((r) => r.outcome === 'done')).toHaveLength(20);
    expect(done()).toBe(30);
    expect((await collect(log.readAll())).filter((e) => e.type === 'BirthRegistered')).toHaveLength(30);
    await close();
  });

  it('submits a dropped pair once, moves it to done/, and moves a broken file to failed/ with the reason', async () => {
    const { log, connector, inbox, close } = standesamtWithIngress();
    copyFileSync(path.join(fixturesDir, 'examples/portal2StA.Geburt.081021.xml'), path.join(inbox, '11007007_G_2026_334.081021.xml'));
    copyFileSync(path.join(fixturesDir, 'examples/portal2StA.Geburt.081020.xml'), path.join(inbox, '11007007_G_2026_334.081020.xml'));
    writeFileSync(path.join(inbox, '11007007_G_2026_335.081020.xml'), '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>');
    const results = await scanDirectory(inbox, connector, { pairWindowMs: 0 });
    await connector.flush();
    expect(results.map((r) => [r.files.join('+'), r.outcome]).sort()).toEqual([
      ['11007007_G_2026_334.081020.xml+11007007_G_2026_334.081021.xml', 'done'],
      ['11007007_G_2026_335.081020.xml', 'failed'],
    ]);
    expect(readdirSync(path.join(inbox, 'done')).sort()).toEqual(['11007007_G_2026_334.081020.xml', '11007007_G_2026_334.081021.xml']);
    // The hub's answer, not the watcher's word: the log holds the registration.
    expect((await collect(log.readAll())).filter((e) => e.type === 'BirthRegistered')).toHaveLength(1);
    expect(JSON.parse(readFileSync(path.join(inbox, 'failed', '11007007_G_2026_335.error.json'), 'utf8')).error.code).toBe('doctype-forbidden');
    expect(existsSync(path.join(inbox, '11007007_G_2026_334.081020.xml'))).toBe(false);
    // The same files dropped again (e.g. after a crash before the move) are not stored twice.
    copyFileSync(path.join(inbox, 'done', '11007007_G_2026_334.081020.xml'), path.join(inbox, '11007007_G_2026_334.081020.xml'));
    copyFileSync(path.join(inbox, 'done', '11007007_G_2026_334.081021.xml'), path.join(inbox, '11007007_G_2026_334.081021.xml'));
    const again = await scanDirectory(inbox, connector);
    expect(again.map((r) => [r.outcome, r.answer?.duplicate])).toEqual([['done', true]]);
    // Nothing is overwritten: the second arrival has its own name in done/.
    expect(readdirSync(path.join(inbox, 'done')).sort()).toEqual([
      '11007007_G_2026_334.081020.2.xml',
      '11007007_G_2026_334.081020.xml',
      '11007007_G_2026_334.081021.2.xml',
      '11007007_G_2026_334.081021.xml',
    ]);
    const entries = await collect(log.readAll());
    expect(entries.filter((e) => e.type === 'BirthRegistered')).toHaveLength(1);
    const registered = entries.find((e) => e.type === 'BirthRegistered')!.data as { data: { consent: unknown; registerKey: { eintragsnummer: string } } };
    expect(registered.data.registerKey.eintragsnummer).toBe('334');
    expect(registered.data.consent).toMatchObject({ elterngeldstelle: true, auftragsnummer: 'EG-2026-4711' });
    await close();
    await log.close();
  });

  it('a failing scan of the drop folder is logged with the watcher named, counted and unhealthy until a scan succeeds', async () => {
    const keys = tmp('keys');
    const signer = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    const connector = new StandesamtConnector({ nc, signer, outboxFile: path.join(tmp('outbox'), 'o.sqlite') });
    const { lines, log } = recorder();
    const lifecycle = createLifecycle({ logger: lifecycleLogOf(log) });
    const watcher = watchDirectory(tmp('watch'), connector, { intervalMs: 50, log, lifecycle });
    try {
      lifecycle.injectFault('watcher', new Error('drop folder unreadable (EACCES)'));
      await until(() => lines.some((l) => l.level === 'error' && l.event === 'component.failed' && l.fields['component'] === 'watcher'), { what: 'the error line', timeoutMs: 10_000 });
      expect(watcher.health()).toMatchObject({ component: 'watcher', healthy: false });
      expect(watcher.health().failures).toBeGreaterThan(0);
      expect(lifecycle.unhealthy().map((h) => h.component)).toEqual(['watcher']);
      lifecycle.injectFault('watcher', undefined);
      await until(() => watcher.health().healthy, { what: 'the watcher healthy again', timeoutMs: 15_000 });
      expect(lines.some((l) => l.level === 'warn' && l.event === 'component.recovered' && l.fields['component'] === 'watcher')).toBe(true);
    } finally {
      await watcher.stop();
      await connector.close();
    }
  }, 30_000);

  it('a submission the hub does not answer is said once, the sending reported failing until the hub answers', async () => {
    const keys = tmp('keys');
    const signer = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    const { lines, log } = recorder();
    const lifecycle = createLifecycle({ logger: lifecycleLogOf(log) });
    const connector = new StandesamtConnector({ nc, signer, outboxFile: path.join(tmp('outbox'), 'o.sqlite'), timeoutMs: 300, retryMs: 100, log, component: lifecycle.component('sending') });
    const event = registered();
    await connector.submit(event);
    await connector.flush();
    await connector.flush();
    const said = lines.filter((l) => l.event === 'submission.send-failed');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'warn', fields: { messageId: event.messageId } });
    expect(lifecycle.component('sending').health()).toMatchObject({ healthy: false });
    expect(lines.some((l) => l.level === 'error' && l.fields['component'] === 'sending')).toBe(true);
    const store = createMemoryEventStore();
    const ingress = startIngress({ nc, log: store, verifier: keySetVerifier(loadTrustedKeys(keys)) });
    try {
      await until(async () => {
        await connector.flush();
        return connector.counts().accepted === 1;
      }, { what: 'the submission accepted', timeoutMs: 15_000 });
      expect(lifecycle.component('sending').health()).toMatchObject({ healthy: true });
    } finally {
      await connector.close();
      await ingress.stop();
      await store.close();
    }
  }, 30_000);
});
