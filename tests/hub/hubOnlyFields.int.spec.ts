// Fields only the hub sets (recorded-at, log position, signer metadata) cannot be supplied by
// a submitter: such a submission is refused, and nothing of it reaches the log.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySetVerifier, SubmissionReplySchema, type Signer, type SubmissionReply } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress, type Ingress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import type { SqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';

describe.skipIf(!natsAvailable)('fields only the hub sets', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let store: SqliteEventStore;
  let ingress: Ingress;
  let standesamt: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    const keys = mkdtempSync(path.join(os.tmpdir(), 'elfe-hubfields-keys-'));
    standesamt = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    store = createMemoryEventStore();
    ingress = startIngress({ nc, log: store, verifier: keySetVerifier(loadTrustedKeys(keys)) });
  });
  afterAll(async () => {
    await ingress.stop();
    await nc.close();
    await store.close();
    await nats.stop();
  });

  const send = async (payload: unknown): Promise<SubmissionReply> => {
    const reply = await requestAs(nc, standesamt.identity.dvdv, JSON.stringify({ payload, signature: standesamt.sign(payload) }));
    return SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
  };

  it('refuses a submission that claims a recording time, a log position or signer metadata', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['recordedAt', { recordedAt: '2020-01-01T00:00:00.000Z' }],
      ['position', { position: 0 }],
      ['signer metadata', { metadata: { signerKeyId: 'someone-else', receivedAt: '2020-01-01T00:00:00.000Z' } }],
      ['a stream name', { stream: 'security' }],
    ];
    for (const [i, [name, extra]] of cases.entries()) {
      const event = registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: `H${i}` } as never }));
      const reply = await send({ ...event, ...extra });
      expect(reply.ok ? 'ok' : reply.error.code, name).toBe('invalid-contract');
    }
    expect((await collect(store.readAll())).filter((e) => e.stream !== 'security')).toEqual([]);
  });
});
