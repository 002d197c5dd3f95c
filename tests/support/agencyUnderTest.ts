// An Elterngeldstelle's delivery consumer under test with real CA files: the hub's and the
// agency's trust as connectors/kit builds it, the consumer writing each delivery's inbox file
// `<deliveryId>.json`, deliveries published signed by the hub, and whether JetStream holds
// nothing more for the agency (all delivered and acknowledged).
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { consumerName, deliveryStream, deliverySubject, type Signer } from '../../contracts/index.ts';
import { startAgencyConsumer, type AgencyConsumer, type AgencyConsumerOptions } from '../../connectors/kit/agencyConsumer.ts';
import { certificateTrust, type Trust } from '../../connectors/kit/trust.ts';
import { caCertFileOf, crlFileOf, pkiInit } from '../../hub/src/pki/pki.ts';
import { elterngeldDelivery } from './deliveries.ts';
import { issueParty, tmpDir } from './parties.ts';

export const egsDvdv = 'egs:11000000';
const egsName = 'Elterngeldstelle Berlin';

/** A new CA with the hub and the Elterngeldstelle Berlin enrolled; their trusts, and where the agency's credentials are. */
export async function agencyUnderTest(prefix: string) {
  const ca = tmpDir(`${prefix}-ca`);
  await pkiInit(ca);
  const hub = await issueParty(ca, { role: 'hub', dvdv: 'hub:elfe-hub', name: 'elfe-hub' });
  const egs = await issueParty(ca, { role: 'elterngeldstelle', dvdv: egsDvdv, name: egsName });
  const trustOf = (dir: string) => certificateTrust({ dir, caCertFile: caCertFileOf(ca), crlFile: crlFileOf(ca) });
  return { ca, egsDir: egs.dir, hubTrust: trustOf(hub.dir), egsTrust: trustOf(egs.dir) };
}

/** The Elterngeldstelle's consumer: each delivery handed over as `<inboxDir>/<deliveryId>.json`. */
export function startEgsConsumer(
  nc: NatsConnection,
  trust: Trust,
  dirs: { readonly stateDir: string; readonly inboxDir: string },
  more: Partial<AgencyConsumerOptions> = {},
): Promise<AgencyConsumer> {
  return startAgencyConsumer({
    nc,
    dvdv: egsDvdv,
    signer: trust.signer,
    hubVerifier: trust.verifier,
    stateDir: dirs.stateDir,
    handle: async (d, inbox) => {
      inbox.write(path.join(dirs.inboxDir, `${d.deliveryId}.json`), JSON.stringify({ deliveryId: d.deliveryId }));
      return { ok: true };
    },
    ...more,
  });
}

/** Publishes a delivery to the Elterngeldstelle for each id, signed by `hub`, in this order. */
export async function publishDeliveries(nc: NatsConnection, hub: Signer, ids: readonly string[]): Promise<void> {
  const js = jetstream(nc);
  for (const deliveryId of ids) {
    const delivery = elterngeldDelivery(deliveryId, { dvdv: egsDvdv, name: egsName });
    await js.publish(deliverySubject(egsDvdv), JSON.stringify({ payload: delivery, signature: hub.sign(delivery) }), { msgID: deliveryId });
  }
}

/** Whether the Elterngeldstelle's consumer has nothing left to deliver and nothing unacknowledged. */
export async function allAcknowledged(nc: NatsConnection): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(deliveryStream, consumerName(egsDvdv));
  return info.num_pending === 0 && info.num_ack_pending === 0;
}
