// The Familienkasse's connector: each delivery's Kindergeld data set is written as JSON
// (schema: contracts/schemas/kindergeld-data-set.schema.json) into the inbox directory,
// once per delivery id: {deliveryId, kind, scheduledAt, correction?, dataSet}, where a
// correction carries `correction: {corrects, reason}` (the delivery it corrects, the
// Standesamt's reason). When the hub erases a case, its erasure notice removes the case's
// `<deliveryId>.json` files and leaves `erasure-<noticeId>.json` (ids, time, reason; no personal data).
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { KindergeldDataSetSchema, type Signer, type Verifier } from '../../../contracts/index.ts';
import { startAgencyConsumer, type AgencyConsumer, type HandlerOutcome } from '../../kit/agencyConsumer.ts';
import type { Lifecycle } from '../../kit/lifecycle.ts';
import { ensurePrivateDir } from '../../kit/atomicFile.ts';
import { eraseFromInbox } from '../../kit/erasure.ts';

export interface FamilienkasseConnectorOptions {
  readonly nc: NatsConnection;
  readonly dvdv: string;
  readonly signer: Signer;
  readonly hubVerifier: Verifier;
  readonly hubDvdv?: string;
  readonly inboxDir: string;
  readonly stateDir: string;
  readonly maxDeliver?: number;
  readonly ackWaitMs?: number;
  readonly log?: (line: string) => void;
  /** The agency's private key, for payloads encrypted to its certificate. */
  readonly decryptionKey?: KeyObject;
  /** Where the consume loop reports its failures (see AgencyConsumerOptions). */
  readonly lifecycle?: Lifecycle;
}

export async function startFamilienkasseConnector(options: FamilienkasseConnectorOptions): Promise<AgencyConsumer> {
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
      eraseFromInbox(options.inboxDir, notice, ['.json'], new Date());
    },
    async handle(delivery, inbox): Promise<HandlerOutcome> {
      const dataSet = KindergeldDataSetSchema.safeParse(delivery.payload);
      if (!dataSet.success) return { ok: false, reasonCode: 'not-kindergeld', reason: 'the payload is not the Kindergeld data set' };
      const correction = delivery.kind === 'correction' ? delivery.correction : undefined;
      if (correction && correction.reason === undefined) return { ok: false, reasonCode: 'no-reason', reason: 'the correction\'s reason did not arrive' };
      const file = path.join(options.inboxDir, `${delivery.deliveryId}.json`);
      if (!existsSync(file)) {
        const entry = {
          deliveryId: delivery.deliveryId,
          kind: delivery.kind,
          scheduledAt: delivery.scheduledAt,
          ...(correction ? { correction: { corrects: correction.corrects, reason: correction.reason } } : {}),
          dataSet: dataSet.data,
        };
        inbox.write(file, `${JSON.stringify(entry, null, 2)}\n`);
      }
      return { ok: true, reference: `KG/${delivery.deliveryId}` };
    },
  });
}
