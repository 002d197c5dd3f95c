// The hub's answer is the Standesamt's only evidence that a birth is registered. Whoever can
// answer on the submit subject (a rogue node, a compromised responder) must not be able to make
// an office report "registered": the office's connector takes only answers signed by the
// hub's ingress identity, about the message it sent. Against a real nats-server, with real
// certificates of an exchange CA; the "hub" here is a responder the test controls.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateVerifier, hubIngressIdentity, signReply, submitSubjectOf, type Signer, type SubmissionReply } from '../../contracts/index.ts';
import { StandesamtConnector } from '../../connectors/standesamt/src/standesamtConnector.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { pkiInit } from '../../hub/src/pki/pki.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf } from '../support/liveExchange.ts';
import { natsAvailable, natsSkipReason, startTestNatsServer } from '../support/natsServer.ts';
import { signerOfParty, tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

describe.skipIf(!natsAvailable)('a forged answer to a submission', () => {
  let nats: LocalNatsServer;
  let responderNc: NatsConnection;
  let officeNc: NatsConnection;
  let ca: string;
  const signers: Record<'ingress' | 'hub' | 'otherOffice' | 'office', Signer> = {} as never;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    responderNc = await connect({ servers: nats.url });
    officeNc = await connect({ servers: nats.url });
    ca = tmpDir('forged-reply-ca');
    await pkiInit(ca);
    const signerOf = (request: Parameters<typeof signerOfParty>[1]) => signerOfParty(ca, request);
    signers.ingress = await signerOf({ role: 'hub', dvdv: hubIngressIdentity.dvdv, name: hubIngressIdentity.name });
    signers.hub = await signerOf({ role: 'hub', dvdv: 'hub:elfe-hub', name: 'elfe-hub' });
    signers.otherOffice = await signerOf({ role: 'standesamt', dvdv: 'psw:04011000', name: 'Standesamt Bremen-Mitte' });
    signers.office = await signerOf({ role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Test' });
  });
  afterAll(async () => {
    await responderNc?.close();
    await officeNc?.close();
    await nats?.stop();
  });

  /** An office whose submissions are answered by `answer` (given the submitted message id). */
  async function officeAnsweredBy(answer: (messageId: string) => SubmissionReply | string) {
    const sub = responderNc.subscribe(submitSubjectOf('psw:11007007'), {
      callback: (_e, m) => {
        const sent = JSON.parse(new TextDecoder().decode(m.data)) as { payload: { messageId: string } };
        const reply = answer(sent.payload.messageId);
        m.respond(typeof reply === 'string' ? reply : JSON.stringify(reply));
      },
    });
    await responderNc.flush();
    const connector = new StandesamtConnector({
      nc: officeNc,
      signer: signers.office,
      outboxFile: path.join(tmpDir('forged-reply-outbox'), 'outbox.sqlite'),
      timeoutMs: 2000,
      retryMs: 60_000,
      hubVerifier: certificateVerifier({ caCertificatePem: readFileSync(path.join(ca, 'ca.cert.pem'), 'utf8'), revokedSerials: () => new Set() }),
    });
    return {
      connector,
      async close() {
        await connector.close();
        sub.unsubscribe();
      },
    };
  }

  let entry = 0;
  const submission = () => asProducer(registered(birthOf('11007007', `FORGED-${++entry}`)), { dvdv: 'psw:11007007', role: 'standesamt', signer: signers.office } as never);
  const accepted = (messageId: string): SubmissionReply => ({ ok: true, messageId, position: 41, duplicate: false });

  it.each([
    ['unsigned', (id: string) => accepted(id)],
    ["signed by another office's valid certificate", (id: string) => signReply(accepted(id), signers.otherOffice)],
    ["signed by the hub's own identity, which does not answer submissions", (id: string) => signReply(accepted(id), signers.hub)],
    ['signed by the ingress but about another message (a replayed answer)', () => signReply(accepted('00000000-0000-4000-8000-000000000000'), signers.ingress)],
    ['signed by the ingress, then altered (another position)', (id: string) => ({ ...signReply(accepted(id), signers.ingress), position: 7 }) as SubmissionReply],
  ])('%s: the office reports nothing as registered; the submission waits', async (_what, forge) => {
    const office = await officeAnsweredBy(forge);
    try {
      const event = submission();
      const sent = await office.connector.submit(event);
      expect(sent.success && sent.data.status).toBe('pending');
      // Nor is a forged refusal taken: it would make the office drop a valid birth.
      expect(office.connector.counts()).toEqual({ pending: 1, accepted: 0, refused: 0 });
    } finally {
      await office.close();
    }
  });

  it("the hub's signed answer about the message sent counts: registered", async () => {
    const office = await officeAnsweredBy((id) => signReply(accepted(id), signers.ingress));
    try {
      const event = submission();
      await office.connector.submit(event);
      await until(() => office.connector.status(event.messageId)?.status === 'accepted', { what: 'accepted', timeoutMs: 10_000 });
      expect(office.connector.status(event.messageId)).toMatchObject({ status: 'accepted', position: 41 });
    } finally {
      await office.close();
    }
  });
});
