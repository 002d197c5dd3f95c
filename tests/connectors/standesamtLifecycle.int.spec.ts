// The Standesamt's running parts fail loudly: the drop folder's watcher runs as a lifecycle loop
// (a failing scan is an error line naming it, counted, unhealthy until a scan succeeds again),
// and a submission the hub does not answer is said, once, and reported until the hub answers.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySetVerifier } from '../../contracts/index.ts';
import { createLifecycle } from '../../connectors/kit/lifecycle.ts';
import { StandesamtConnector, type ConnectorLog } from '../../connectors/standesamt/src/standesamtConnector.ts';
import { watchDirectory } from '../../connectors/standesamt/src/watchDirectory.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { until } from '../support/processes.ts';

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

describe.skipIf(!natsAvailable)('the Standesamt: loud failures', () => {
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

  it('a failing scan of the drop folder is logged with the watcher named, counted and unhealthy until a scan succeeds', async () => {
    const keys = tmp('keys');
    const signer = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    const connector = new StandesamtConnector({ nc, signer, outboxFile: path.join(tmp('outbox'), 'o.sqlite') });
    const { lines, log } = recorder();
    const lifecycle = createLifecycle({ logger: { error: (fields, message) => log('error', String(fields['event']), fields, message), warn: (fields, message) => log('warn', String(fields['event']), fields, message) } });
    const watcher = watchDirectory(tmp('watch'), connector, { intervalMs: 50, log, lifecycle });
    try {
      lifecycle.injectFault('watcher', new Error('drop folder unreadable (EACCES)'));
      await until(() => lines.some((l) => l.level === 'error' && l.event === 'component.failed' && l.fields['component'] === 'watcher'), 10_000, 'the error line');
      expect(watcher.health()).toMatchObject({ component: 'watcher', healthy: false });
      expect(watcher.health().failures).toBeGreaterThan(0);
      expect(lifecycle.unhealthy().map((h) => h.component)).toEqual(['watcher']);
      lifecycle.injectFault('watcher', undefined);
      await until(() => watcher.health().healthy, 15_000, 'the watcher healthy again');
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
    const lifecycle = createLifecycle({ logger: { error: (fields, message) => log('error', String(fields['event']), fields, message), warn: (fields, message) => log('warn', String(fields['event']), fields, message) } });
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
      }, 15_000, 'the submission accepted');
      expect(lifecycle.component('sending').health()).toMatchObject({ healthy: true });
    } finally {
      await connector.close();
      await ingress.stop();
      await store.close();
    }
  }, 30_000);
});
