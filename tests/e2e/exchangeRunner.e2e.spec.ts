// The exchange runner the demo, the tests, the bench and the soak share: every party as its own
// process, each ready before it counts as started; a party killed with SIGKILL comes back with
// its own command; stop leaves no process of the exchange behind; a start that fails halfway
// stops what it had started.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExchange, type RunningExchange } from '../../hub/src/runner/exchangeRunner.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { pidsWith, processAlive, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

describe.skipIf(!natsAvailable)('exchange runner', () => {
  let exchange: RunningExchange | undefined;
  afterAll(async () => {
    await exchange?.stop();
  });

  it('starts the named parties ready, restarts one after SIGKILL, and stops them all (the nats-server too)', async () => {
    exchange = await runExchange({ label: 'runner', start: ['witness', 'hub', 'egs-11000000', 'sta-11007007'] });
    const started = ['witness', 'hub', 'egs-11000000', 'sta-11007007'].map((name) => exchange!.process(name));
    expect(started.map((p) => p?.isReady)).toEqual([true, true, true, true]);
    expect(exchange.process('fka-ost')).toBeUndefined();
    expect(exchange.names).toEqual(expect.arrayContaining(['witness', 'hub', 'egs-11000000', 'fka-ost', 'sta-11007007']));

    const hub = exchange.process('hub')!;
    const before = hub.pid!;
    await exchange.restart('hub');
    expect(processAlive(before)).toBe(false);
    expect(hub.pid).not.toBe(before);
    expect(hub.isReady).toBe(true);

    const natsPid = Number(readFileSync(path.join(exchange.hubDir, 'nats', 'nats-server.pid'), 'utf8'));
    expect(processAlive(natsPid)).toBe(true);
    await exchange.stop();
    expect(started.map((p) => p!.running)).toEqual([false, false, false, false]);
    await until(() => !processAlive(natsPid), { what: "the hub's nats-server gone after stop", timeoutMs: 15_000 });
    expect(pidsWith(exchange.root)).toEqual([]);
  });

  it('a party that does not come up fails the start with its output, and what had started is stopped', async () => {
    let root = '';
    const error = await runExchange({
      label: 'runner-broken',
      start: ['witness', 'hub'],
      beforeStart: (layout) => {
        root = layout.root;
        writeFileSync(layout.hubConfigFile, '{ not json');
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^hub exited before it was ready/);
    expect(root).not.toBe('');
    expect(pidsWith(root)).toEqual([]);
  });
});
