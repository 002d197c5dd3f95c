// A burst of births submitted at once by one office (a back-fill, the catch-up after an
// outage): each submission is stored durably before it is sent, the burst in one fsync'd
// commit rather than one per birth; each is answered and kept as answered. Against a real
// nats-server, with real certificates; the "hub" is a responder that signs as the ingress.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateVerifier, hubIngressIdentity, signReply, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { StandesamtConnector } from '../../connectors/standesamt/src/standesamtConnector.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { pkiInit } from '../../hub/src/pki/pki.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf } from '../support/liveExchange.ts';
import { natsAvailable, natsSkipReason, startTestNatsServer } from '../support/natsServer.ts';
import { signerOfParty, tmpDir } from '../support/parties.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

describe.skipIf(!natsAvailable)('a burst of submissions from one office', () => {
  let nats: LocalNatsServer;
  let hubNc: NatsConnection;
  let officeNc: NatsConnection;
  let ca: string;
  let ingress: Signer;
  let office: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    hubNc = await connect({ servers: nats.url });
    officeNc = await connect({ servers: nats.url });
    ca = tmpDir('submit-burst-ca');
    await pkiInit(ca);
    const signerOf = (request: Parameters<typeof signerOfParty>[1]) => signerOfParty(ca, request);
    ingress = await signerOf({ role: 'hub', dvdv: hubIngressIdentity.dvdv, name: hubIngressIdentity.name });
    office = await signerOf({ role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Test' });
  });
  afterAll(async () => {
    await hubNc?.close();
    await officeNc?.close();
    await nats?.stop();
  });

  it('is stored in one fsync\'d commit before it is sent, and every birth ends accepted in the outbox file', async () => {
    const received: string[] = [];
    const sub = hubNc.subscribe(submitSubjectOf('psw:11007007'), {
      callback: (_e, m) => {
        const sent = JSON.parse(new TextDecoder().decode(m.data)) as { payload: { messageId: string } };
        received.push(sent.payload.messageId);
        m.respond(JSON.stringify(signReply({ ok: true, messageId: sent.payload.messageId, position: received.length, duplicate: false }, ingress)));
      },
    });
    await hubNc.flush();
    const outboxFile = path.join(tmpDir('submit-burst-outbox'), 'outbox.sqlite');
    const connector = new StandesamtConnector({
      nc: officeNc,
      signer: office,
      outboxFile,
      timeoutMs: 5000,
      retryMs: 60_000,
      hubVerifier: certificateVerifier({ caCertificatePem: readFileSync(path.join(ca, 'ca.cert.pem'), 'utf8'), revokedSerials: () => new Set() }),
    });
    try {
      const births = Array.from({ length: 40 }, (_, i) => asProducer(registered(birthOf('11007007', `BURST-${i}`)), { dvdv: 'psw:11007007', role: 'standesamt', signer: office } as never));
      const results = await Promise.all(births.map((b) => connector.submit(b)));
      expect(results.every((r) => r.success)).toBe(true);
      // Each sent once, and all 40 stored together.
      expect(new Set(received)).toEqual(new Set(births.map((b) => b.messageId)));
      expect(connector.durableCommits).toBe(1);
    } finally {
      await connector.close();
      sub.unsubscribe();
    }
    // Read from the file, not from the connector.
    const db = new Database(outboxFile, { readonly: true });
    const rows = db.prepare('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status').all();
    db.close();
    expect(rows).toEqual([{ status: 'accepted', n: 40 }]);
  });
});
