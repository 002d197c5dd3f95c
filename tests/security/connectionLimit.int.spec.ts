// Connections per certificate on the hub's nats-server, against the running exchange: one
// Standesamt's certificate opens more connections than the limit (default 16); all of them
// are closed and a new one is refused for a while, while another office's certificate keeps
// working and the hub reports the block.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const FLOODER = 'sta-04011000';
const OTHER = 'sta-11007007';
const limit = 16;

describe.skipIf(!natsAvailable)('NATS connections per certificate', () => {
  let ex: LiveExchange;
  beforeAll(async () => {
    ex = await startLiveExchange('connlimit');
  }, 120_000);
  afterAll(async () => {
    await ex?.stop();
  });

  it(`one certificate cannot hold more than ${limit} connections: beyond it all are closed and it is refused for a while; others keep working`, async () => {
    const other = await ex.connectAs(OTHER);
    const flood: NatsConnection[] = [];
    for (let i = 0; i < limit + 4; i++) flood.push(await ex.connectAs(FLOODER, { reconnect: false }));
    const open = () => flood.filter((nc) => !nc.isClosed()).length;
    await until(() => open() === 0, { what: `every connection of ${FLOODER} closed`, timeoutMs: 15_000 }).catch(() => undefined);
    expect(open(), `connections of ${FLOODER} still open`).toBe(0);
    await expect(ex.connectAs(FLOODER, { reconnect: false, timeout: 3000 })).rejects.toThrow();
    // Another office is not affected.
    expect(codeOf(await submit(other, asProducer(registered(birthOf('11007007', 'L1')), ex.party(OTHER)), ex.party(OTHER).signer))).toBe('ok');
    const metrics = await (await fetch(`http://127.0.0.1:${ex.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^elfe_nats_connection_limit_blocks_total 1$/m);
    expect(ex.hub.stderr).toMatch(/"level":50[^\n]*"event":"nats\.connection-limit"/);
  }, 60_000);
});
