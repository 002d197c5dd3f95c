// An agency's connector has the hub's lifecycle: a fault injected into one of its running parts
// (the lifecycle's fault seam) shows as an error line naming the component, a counted failure
// and a 503 from its health door, and once the fault is gone it works again (200, and the
// delivery held back meanwhile lands in the inbox). Its start is ordered named steps: when one
// fails (ELFE_FAIL_AT_START_STEP), the process ends naming it and leaves no process, no port and
// nothing that keeps the next start from succeeding.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { runElterngeldConnector, type RunningConnector } from '../../connectors/elterngeld/src/main.ts';
import { loadCredentials } from '../../connectors/kit/credentials.ts';
import { createLogger } from '../../connectors/kit/logger.ts';
import { loadPartyConfig } from '../../connectors/kit/partyConfig.ts';
import { provisionExchange, type Exchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort, portFree } from '../../hub/src/infra/nats/natsServer.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';
import { filesIn, PartyProcess, pidsWith, runElfe, until } from '../support/processes.ts';

/** The party's configuration with a health door on `port`. */
function withHealthPort(configFile: string, port: number): void {
  const json = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...json, health: { port } }, null, 2));
}

describe.skipIf(!natsAvailable)("agency connectors: one lifecycle, a health door, ordered start steps", () => {
  let root: string;
  let exchange: Exchange;
  let hub: RunningHub;
  let sta: NatsConnection;
  let staSigner: Signer;
  let egs: RunningConnector;
  let inbox: string;
  const lines: Record<string, unknown>[] = [];
  let births = 0;

  const door = (url: string) => fetch(`${egs.healthDoor!.url}${url}`);
  const failuresCounted = async (component: string): Promise<number> => {
    const text = await (await door('/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(`elfe_component_failures_total{component="${component}",`));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const submitBirth = async (): Promise<void> => {
    const b = birthOf('11007007', `cl-${++births}`);
    const payload = asProducer(registered(b), { dvdv: 'psw:11007007', role: 'standesamt', signer: { identity: { name: 'Standesamt Test' } } } as never);
    await sta.request(submitSubjectOf('psw:11007007'), signedBytes(payload, staSigner), { timeout: 30_000 });
  };
  const nothing = async (): Promise<void> => undefined;

  beforeAll(async () => {
    root = tmpDir('connector-lifecycle');
    exchange = await provisionExchange(root, { natsPort: await freePort() });
    hub = await startHub(loadConfig(exchange.hubConfigFile), { logger: createLogger('hub', { level: 'silent' }) });
    const party = (name: string) => loadCredentials(path.join(root, 'parties', name));
    sta = await connect({ servers: hub.natsUrl, tls: { caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: party('sta-11007007').certFile, keyFile: party('sta-11007007').keyFile }, inboxPrefix: ownInboxPrefix('standesamt', 'psw:11007007') });
    staSigner = certificateSigner(party('sta-11007007').privateKey, party('sta-11007007').certificatePem);
    const egsParty = exchange.parties.find((p) => p.name === 'egs-11000000')!;
    withHealthPort(egsParty.configFile, 0);
    const config = loadPartyConfig(egsParty.configFile);
    inbox = config.inboxDir ?? path.join(config.dir, 'inbox');
    const logger = { error: (fields: Record<string, unknown>) => void lines.push({ level: 'error', ...fields }), warn: (fields: Record<string, unknown>) => void lines.push({ level: 'warn', ...fields }) };
    egs = await runElterngeldConnector(config, () => undefined, { logger });
    expect(egs.startSteps).toEqual(['trust', 'nats-connection', 'deliveries', 'milestones', 'health-door']);
    const health = await door('/health');
    expect(health.status).toBe(200);
    expect((await health.json()) as unknown).toMatchObject({ status: 'ok', components: [{ component: 'deliveries', healthy: true }, { component: 'milestones', healthy: true }] });
  }, 120_000);

  afterAll(async () => {
    await egs?.stop();
    await sta?.close();
    await hub?.stop();
  });

  it.each([
    ['deliveries', submitBirth],
    ['milestones', nothing],
  ] as const)('a failing %s loop: error line, counted, 503, then healthy again', async (component, work) => {
    const before = await failuresCounted(component);
    const inboxBefore = filesIn(inbox, /\.xml$/).length;
    egs.lifecycle.injectFault(component, new Error(`fault injected into ${component}`));
    await work();
    await until(() => lines.some((l) => l['event'] === 'component.failed' && l['component'] === component && l['level'] === 'error'), { what: `an error line naming ${component}` });
    expect(await failuresCounted(component)).toBeGreaterThan(before);
    const failing = await door('/health');
    expect(failing.status).toBe(503);
    expect(((await failing.json()) as { unhealthy: string[] }).unhealthy).toEqual([component]);

    egs.lifecycle.injectFault(component, undefined);
    await until(async () => (await door('/health')).status === 200, { what: `${component} healthy again`, timeoutMs: 30_000 });
    // What was held back while it failed still arrives.
    if (component === 'deliveries') await until(() => filesIn(inbox, /\.xml$/).length > inboxBefore, { what: 'the delivery in the inbox after the recovery', timeoutMs: 30_000 });
  }, 60_000);

  it('a failing start step ends the process naming it, with no process or port left, and the next start succeeds', async () => {
    const fka = exchange.parties.find((p) => p.role === 'familienkasse')!;
    const port = await freePort();
    withHealthPort(fka.configFile, port);
    const steps = ['trust', 'nats-connection', 'deliveries', 'milestones', 'health-door'];
    for (const step of steps) {
      const finished = await runElfe(['connector', 'familienkasse', '--config', fka.configFile, '--json'], { env: { ELFE_FAIL_AT_START_STEP: step } });
      expect(finished.code, step).toBe(2);
      const error = JSON.parse(finished.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string } };
      expect(error.error.code, step).toBe('start-step-failed');
      expect(error.error.message, step).toContain(`start step ${step} failed`);
      expect(pidsWith(fka.configFile), step).toEqual([]);
      expect(await portFree(port), `${step}: health port ${port}`).toBe(true);
    }
    const connector = new PartyProcess('fka', ['connector', 'familienkasse', '--config', fka.configFile]);
    try {
      await connector.ready();
      expect(connector.output).toContain(`health http://127.0.0.1:${port}/health`);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { components: { component: string }[] }).components.map((c) => c.component)).toEqual(['deliveries', 'milestones']);
    } finally {
      await connector.kill('SIGTERM');
    }
    expect(pidsWith(fka.configFile)).toEqual([]);
    expect(await portFree(port)).toBe(true);
  }, 180_000);
});
