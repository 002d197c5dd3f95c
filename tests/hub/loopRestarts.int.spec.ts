// The relay's and the receipt processor's main loops are restartable: a log subscription that
// throws, or a receipt consumer deleted under the hub, is reported (an error line naming the
// component) and the loop starts again from its position after the back-off. What counts is
// what arrives: the Elterngeldstelle's inbox gets every delivery, the log every acknowledgement.
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySetVerifier, receiptStream } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { startElterngeldConnector } from '../../connectors/elterngeld/src/elterngeldConnector.ts';
import { createLifecycle } from '../../connectors/kit/lifecycle.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import type { EventStore, StoredEvent, Subscription } from '../../hub/src/log/eventStore.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { startReceiptProcessor } from '../../hub/src/receipts/receipts.ts';
import { startRelay } from '../../hub/src/relay/relay.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { until } from '../../hub/src/runner/until.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

/** The store as the relay sees it: while `armed`, the next event a subscription yields is an error instead (once). */
function withSubscriptionFault(store: EventStore): { store: EventStore; arm(): void } {
  let armed = false;
  const subscribe = (from: number, options?: Parameters<EventStore['subscribe']>[1]): Subscription => {
    const inner = store.subscribe(from, options);
    return {
      close: () => inner.close(),
      async *[Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
        for await (const stored of inner) {
          if (armed) {
            armed = false;
            throw new Error('injected subscription error');
          }
          yield stored;
        }
      },
    };
  };
  return {
    store: new Proxy(store, {
      get: (target, key) => {
        if (key === 'subscribe') return subscribe;
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }),
    arm: () => (armed = true),
  };
}

describe.skipIf(!natsAvailable)('relay and receipts: a failing subscription restarts the loop', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(nc));
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  it('after a thrown log subscription and a deleted receipt consumer, every delivery still reaches the inbox and is acknowledged in the log', async () => {
    const keys = tmp('loops-keys');
    const hub = createKeyPair(keys, { name: 'hub', dvdv: 'hub:elfe-hub', role: 'hub' });
    const egs = createKeyPair(keys, { name: 'egs', dvdv: 'egs:11000000', role: 'elterngeldstelle' });
    const lines: Record<string, unknown>[] = [];
    const lifecycle = createLifecycle({ logger: { error: (fields) => void lines.push({ level: 'error', ...fields }), warn: (fields) => void lines.push({ level: 'warn', ...fields }) } });
    const log = createMemoryEventStore();
    const faulty = withSubscriptionFault(log);
    const inbox = tmp('loops-inbox');
    const agency = await startElterngeldConnector({
      nc,
      dvdv: 'egs:11000000',
      name: 'Elterngeldstelle Berlin',
      signer: egs,
      author: () => ({ dvdv: 'psw:11007007', name: 'Standesamt', phone: '030 1', address: { postcode: '10178', city: 'Berlin' } }),
      hubVerifier: keySetVerifier(loadTrustedKeys(keys).filter((k) => k.identity.role === 'hub')),
      inboxDir: inbox,
      stateDir: tmp('loops-state'),
    });
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const relay = await startRelay({ js: jetstream(nc), jsm: await jetstreamManager(nc), log: faulty.store, signer: hub, retryMs: 50, component: lifecycle.component('relay'), lifecycle });
    const receipts = await startReceiptProcessor({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), log, verifier: keySetVerifier(loadTrustedKeys(keys)), component: lifecycle.component('receipts'), lifecycle });
    let births = 0;
    /** A birth registered: its delivery to the Elterngeldstelle, by delivery id. */
    const birth = async (): Promise<string> => {
      const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: `L${++births}` } as never });
      await log.append(`birth-11007007-G-2026-L${births}`, [toRecord(registered(b))]);
      let id: string | undefined;
      await until(async () => {
        const scheduled = (await collect(log.readAll())).filter((e) => e.type === 'DeliveryScheduled').map((e) => (e.data as { data: { deliveryId: string; recipient: { dvdv: string } } }).data);
        id = scheduled.filter((d) => d.recipient.dvdv === 'egs:11000000')[births - 1]?.deliveryId;
        return id !== undefined;
      }, { what: `birth ${births} scheduled`, timeoutMs: 10_000 });
      return id!;
    };
    const acknowledged = async (deliveryId: string) =>
      (await collect(log.readAll())).some((e) => e.type === 'DeliveryAcknowledged' && (e.data as { data: { deliveryId: string } }).data.deliveryId === deliveryId);
    const arrived = async (deliveryId: string, what: string) => {
      await until(() => existsSync(path.join(inbox, `${deliveryId}.xml`)), { what: `${what} in the Elterngeldstelle's inbox`, timeoutMs: 30_000 });
      await until(() => acknowledged(deliveryId), { what: `${what} acknowledged in the log`, timeoutMs: 30_000 });
    };
    try {
      await arrived(await birth(), 'the first delivery');

      // The relay's subscription throws at the next event: the loop subscribes again from its position.
      faulty.arm();
      await arrived(await birth(), 'a delivery after the relay subscription failed');
      expect(lines.some((l) => l['event'] === 'component.failed' && l['component'] === 'relay' && l['level'] === 'error')).toBe(true);

      // The receipt consumer deleted under the hub: the loop ends with an error and consumes again.
      await (await jetstreamManager(nc)).consumers.delete(receiptStream, 'hub-receipts');
      const third = await birth();
      await arrived(third, 'a delivery after the receipt consumer was deleted');
      expect(lines.some((l) => l['event'] === 'component.failed' && l['component'] === 'receipts' && l['level'] === 'error')).toBe(true);
      expect(lifecycle.unhealthy()).toEqual([]);
    } finally {
      await receipts.stop();
      await relay.stop();
      await scheduler.stop();
      await agency.stop();
      await log.close();
    }
  }, 120_000);
});
