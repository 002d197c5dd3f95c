// The Elterngeldstelle's connector: each delivery becomes a `131011` message
// (stA2EGS.Geburt.131011, XSD-valid) in the Elterngeldstelle's inbox directory, written once
// per delivery id, optionally POSTed to a webhook of its system. A correction's 131011 names
// the message it corrects in `vorgangsidentifikation` (`Berichtigung-<nachrichtenUUID>`); the
// Standesamt's reason, free text that fits no 131011 element, lies beside it in
// `<deliveryId>.meta.json` ({deliveryId, kind, corrects, reason}, no further personal data).
// When the hub erases a case, its erasure notice removes both files of each of the case's
// deliveries and leaves `erasure-<noticeId>.json` (ids, time, reason; no personal data).
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { correctionVorgang, ElterngeldDataSetSchema, render131011, type Author, type Signer, type Verifier } from '../../../contracts/index.ts';
import { startAgencyConsumer, type AgencyConsumer, type HandlerOutcome } from '../../kit/agencyConsumer.ts';
import type { Lifecycle } from '../../kit/lifecycle.ts';
import { ensurePrivateDir, writeFileAtomic } from '../../kit/atomicFile.ts';
import { eraseFromInbox } from '../../kit/erasure.ts';

export interface ElterngeldConnectorOptions {
  readonly nc: NatsConnection;
  readonly dvdv: string;
  readonly name: string;
  readonly signer: Signer;
  readonly hubVerifier: Verifier;
  readonly hubDvdv?: string;
  readonly inboxDir: string;
  readonly stateDir: string;
  /** Header data of the sending Standesamt in 131011 (the hub relays on its behalf). */
  readonly author: (standesamtsnummer: string) => Author;
  readonly webhookUrl?: string;
  readonly maxDeliver?: number;
  readonly ackWaitMs?: number;
  readonly log?: (line: string) => void;
  /** The agency's private key, for payloads encrypted to its certificate. */
  readonly decryptionKey?: KeyObject;
  /** Where the consume loop reports its failures (see AgencyConsumerOptions). */
  readonly lifecycle?: Lifecycle;
}

export async function startElterngeldConnector(options: ElterngeldConnectorOptions): Promise<AgencyConsumer> {
  ensurePrivateDir(options.inboxDir);
  return startAgencyConsumer({
    nc: options.nc,
    dvdv: options.dvdv,
    signer: options.signer,
    hubVerifier: options.hubVerifier,
    ...(options.hubDvdv ? { hubDvdv: options.hubDvdv } : {}),
    stateDir: options.stateDir,
    ...(options.maxDeliver ? { maxDeliver: options.maxDeliver } : {}),
    ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.decryptionKey ? { decryptionKey: options.decryptionKey } : {}),
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
    // An erased case: its hand-off copies leave the inbox, a notice file without personal data stays.
    async erase(notice) {
      eraseFromInbox(options.inboxDir, notice, ['.xml', '.meta.json'], new Date());
    },
    async handle(delivery, inbox): Promise<HandlerOutcome> {
      // Only the closed data set of § 25 BEEG may arrive here.
      const dataSet = ElterngeldDataSetSchema.safeParse(delivery.payload);
      if (!dataSet.success) return { ok: false, reasonCode: 'not-beeg-25', reason: 'the payload is not the data set of § 25 BEEG' };
      const correction = delivery.kind === 'correction' ? delivery.correction : undefined;
      if (correction && correction.reason === undefined) return { ok: false, reasonCode: 'no-reason', reason: 'the correction\'s reason did not arrive' };
      const file = path.join(options.inboxDir, `${delivery.deliveryId}.xml`);
      if (!existsSync(file)) {
        const xml = render131011(dataSet.data, {
          messageId: delivery.deliveryId,
          createdAt: delivery.scheduledAt,
          author: options.author(dataSet.data.registerKey.standesamtsnummer),
          reader: { dvdv: options.dvdv, name: options.name },
          ...(correction ? { vorgangsidentifikation: correctionVorgang(correction.corrects, delivery.scheduledAt) } : {}),
        });
        // The reason first: a 131011 in the inbox is complete, its sidecar included.
        if (correction) {
          const meta = { deliveryId: delivery.deliveryId, kind: delivery.kind, corrects: correction.corrects, reason: correction.reason };
          writeFileAtomic(path.join(options.inboxDir, `${delivery.deliveryId}.meta.json`), `${JSON.stringify(meta, null, 2)}\n`);
        }
        // With a webhook, the file's name is durable before the POST (a redelivery finds the file and does not POST again).
        if (options.webhookUrl) writeFileAtomic(file, xml);
        else inbox.write(file, xml);
        if (options.webhookUrl) {
          const response = await fetch(options.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: xml });
          if (!response.ok) throw new Error(`webhook answered ${response.status}`);
        }
      }
      return { ok: true, reference: `131011/${delivery.deliveryId}` };
    },
  });
}
