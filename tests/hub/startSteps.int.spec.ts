// startHub as ordered named steps: when any one of them fails, the steps before it are stopped
// in reverse and nothing of the start is left running (no nats-server, no port, no lock).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { HubStartError, startHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort, portFree } from '../../hub/src/infra/nats/natsServer.ts';
import { createLogger } from '../../connectors/kit/logger.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { tmpDir } from '../support/parties.ts';

/** Processes whose command line names a path under `root` (the hub's nats-server, a reaper). */
function processesUnder(root: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(root)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(!natsAvailable)('startHub: ordered steps, rolled back when one fails', () => {
  it('leaves nothing running when any step fails, and a later start succeeds', async () => {
    const root = tmpDir('start-steps');
    const ports = { nats: await freePort(), metrics: await freePort(), api: await freePort() };
    const exchange = await provisionExchange(root, { natsPort: ports.nats, metricsPort: ports.metrics, apiPort: ports.api });
    const config = loadConfig(exchange.hubConfigFile);
    const quiet = createLogger('hub', { level: 'silent' });
    const first = await startHub(config, { logger: quiet });
    const steps = first.startSteps;
    await first.stop();
    expect(steps).toEqual(expect.arrayContaining(['lock', 'log', 'nats-server', 'nats-connection', 'read-side', 'scheduler', 'relay', 'receipts', 'retention', 'ingress', 'api', 'metrics']));
    expect(processesUnder(root)).toEqual([]);

    for (const step of steps) {
      const error = await startHub(config, { logger: quiet, failAt: step }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, step).toBeInstanceOf(HubStartError);
      expect((error as HubStartError).step, step).toBe(step);
      expect((error as HubStartError).code, step).toBe('start-failed');
      // Nothing left: no nats-server (or any process) of this data directory, every port free.
      expect(processesUnder(root), step).toEqual([]);
      for (const [what, port] of Object.entries(ports)) expect(await portFree(port), `${step}: ${what} port ${port}`).toBe(true);
    }
    // The data directory's lock was released each time: a whole start succeeds.
    const again = await startHub(config, { logger: quiet });
    expect(again.startSteps).toEqual(steps);
    await again.stop();
    expect(processesUnder(root)).toEqual([]);
    expect(await portFree(ports.nats)).toBe(true);
  }, 240_000);

  it('the fault seam is also read from ELFE_FAIL_AT_START_STEP', async () => {
    const root = tmpDir('start-steps-env');
    const exchange = await provisionExchange(root, { natsPort: await freePort() });
    const config = loadConfig(exchange.hubConfigFile);
    process.env['ELFE_FAIL_AT_START_STEP'] = 'relay';
    try {
      await expect(startHub(config, { logger: createLogger('hub', { level: 'silent' }) })).rejects.toMatchObject({ name: 'HubStartError', step: 'relay' });
    } finally {
      delete process.env['ELFE_FAIL_AT_START_STEP'];
    }
    expect(processesUnder(root)).toEqual([]);
  }, 60_000);
});
