// Every running part of the hub fails loudly: a fault injected into its loop (the lifecycle's
// fault seam, thrown where its work begins) shows as an error line naming the component, a
// counted failure (elfe_component_failures_total), the health endpoint's 503 and the
// dashboard's banner; once the fault is gone and its work succeeds again, it is healthy again.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, receiptSubject, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { createRequest, loadCredentials } from '../../connectors/kit/credentials.ts';
import { createLogger } from '../../connectors/kit/logger.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { enrolRequest } from '../../hub/src/pki/pki.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { until } from '../support/processes.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';

describe.skipIf(!natsAvailable)('component failures are logged, counted and shown unhealthy until the component works again', () => {
  let root: string;
  let hub: RunningHub;
  let ca: string;
  let auditor: { key: string; cert: string };
  let sta: NatsConnection;
  let staSigner: Signer;
  let egs: NatsConnection;
  const lines: Record<string, unknown>[] = [];
  let births = 0;

  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = https.request(`${hub.readSide.api!.url}${url}`, { method: 'GET', ca, key: auditor.key, cert: auditor.cert }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
  const failuresCounted = async (component: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`elfe_component_failures_total{component="${component}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  /** A new birth from the Standesamt: work for the ingress, scheduler, read side and relay. */
  const submitBirth = async (): Promise<void> => {
    const b = birthOf('11007007', `lc-${++births}`);
    const payload = asProducer(registered(b), { dvdv: 'psw:11007007', role: 'standesamt', signer: { identity: { name: 'Standesamt Test' } } } as never);
    await sta.request(submitSubjectOf('psw:11007007'), signedBytes(payload, staSigner), { timeout: 30_000 });
  };
  /** A receipt the processor must judge (this one is refused as malformed, a security event it records). */
  const sendReceipt = async (): Promise<void> => {
    await jetstream(egs).publish(receiptSubject('egs:11000000'), JSON.stringify({ payload: { deliveryId: `lc-${++births}` } }));
  };
  const nothing = async (): Promise<void> => undefined;

  beforeAll(async () => {
    root = tmpDir('component-failures');
    const exchange = await provisionExchange(root, {
      natsPort: await freePort(),
      apiPort: 0,
      metricsPort: 0,
      hub: { escalation: { acknowledgeWithinMs: 3_600_000, escalateAfterMs: 7_200_000, webhooks: {}, reconcileEveryMs: 300, checkEveryMs: 300 }, retention: { afterLastHandoffDays: 730, checkEveryMs: 1000 }, log: { checkpoint: { everyEntries: 1000, everyMs: 300 }, origin: 'elfe-hub/log', store: { kind: 'sqlite' } } } as never,
    });
    hub = await startHub(loadConfig(exchange.hubConfigFile), { logger: createLogger('hub', { destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } }) });
    ca = readFileSync(path.join(root, 'ca', 'ca.cert.pem'), 'utf8');
    const dir = path.join(root, 'parties', 'aud-lifecycle');
    await createRequest(dir, { role: 'auditor', dvdv: 'aud:lifecycle', name: 'aud-lifecycle' });
    auditor = { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: (await enrolRequest(path.join(root, 'ca'), readFileSync(path.join(dir, 'request.csr'), 'utf8'))).certificatePem };
    // The auditor's certificate changes the nats-server's users: connected after that reload, not during it.
    await until(() => lines.some((l) => l['event'] === 'nats.users-reloaded'), { what: 'the nats-server users reloaded after the enrolment' });
    const party = (name: string) => loadCredentials(path.join(root, 'parties', name));
    const tls = (name: string) => ({ caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: party(name).certFile, keyFile: party(name).keyFile });
    sta = await connect({ servers: hub.natsUrl, tls: tls('sta-11007007'), inboxPrefix: ownInboxPrefix('standesamt', 'psw:11007007') });
    egs = await connect({ servers: hub.natsUrl, tls: tls('egs-11000000'), inboxPrefix: ownInboxPrefix('elterngeldstelle', 'egs:11000000') });
    staSigner = certificateSigner(party('sta-11007007').privateKey, party('sta-11007007').certificatePem);
    expect((await get('/api/v1/health')).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await sta?.close();
    await egs?.close();
    await hub?.stop();
  });

  it.each([
    ['ingress', submitBirth],
    ['scheduler', submitBirth],
    ['relay', submitBirth],
    ['read-side', submitBirth],
    ['receipts', sendReceipt],
    ['checkpoints', submitBirth],
    ['retention', nothing],
    ['reconcile', nothing],
    ['deadlines', nothing],
    ['nats-users', nothing],
    ['nats-connection-limit', nothing],
  ] as const)('%s', async (component, work) => {
    const before = await failuresCounted(component);
    hub.lifecycle.injectFault(component, new Error(`fault injected into ${component}`));
    await work();
    await until(() => lines.some((l) => l['event'] === 'component.failed' && l['component'] === component && l['level'] === 50), { what: `an error line naming ${component}` });
    expect(await failuresCounted(component)).toBeGreaterThan(before);
    const health = await get('/api/v1/health');
    expect(health.status).toBe(503);
    expect((JSON.parse(health.body) as { unhealthy: string[] }).unhealthy).toContain(component);
    expect((await get('/')).body).toMatch(new RegExp(`role="alert">[^<]*\\b${component}\\b`));

    hub.lifecycle.injectFault(component, undefined);
    await work();
    await until(async () => (await get('/api/v1/health')).status === 200, { what: `${component} healthy again`, timeoutMs: 30_000 });
    expect(hub.lifecycle.health().find((h) => h.component === component)).toMatchObject({ healthy: true });
    expect((await get('/')).body).not.toMatch(/role="alert"/);
  }, 60_000);
});
