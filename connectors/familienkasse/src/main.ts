// `elfe connector familienkasse --config FILE`: one Familienkasse's connector as its own
// process, with its own key, certificate, state and inbox.
import path from 'node:path';
import type { AgencyConsumer } from '../../kit/agencyConsumer.ts';
import { asLines, milestoneDirOf, watchMilestoneFolder } from '../../kit/milestoneFolder.ts';
import { openParty } from '../../kit/party.ts';
import { PartyConfigError, type PartyConfig } from '../../kit/partyConfig.ts';
import { startFamilienkasseConnector } from './familienkasseConnector.ts';

export async function runFamilienkasseConnector(config: PartyConfig, log: (line: string) => void): Promise<{ consumer: AgencyConsumer; stop(): Promise<void> }> {
  if (config.role !== 'familienkasse') throw new PartyConfigError(`this configuration is for a ${config.role}, not a Familienkasse`);
  const { trust, nc } = await openParty(config, log);
  const consumer = await startFamilienkasseConnector({
    nc,
    dvdv: config.dvdv,
    signer: trust.signer,
    hubVerifier: trust.verifier,
    hubDvdv: config.hub.dvdv,
    decryptionKey: trust.decryptionKey,
    inboxDir: config.inboxDir ?? path.join(config.dir, 'inbox'),
    stateDir: path.join(config.dir, 'state'),
    maxDeliver: config.delivery.maxDeliver,
    ackWaitMs: config.delivery.ackWaitMs,
    log,
  });
  // The case system's milestones (in Bearbeitung, bewilligt, …), dropped as files beside the inbox.
  const milestones = watchMilestoneFolder({ nc, dvdv: config.dvdv, signer: trust.signer, hubVerifier: trust.verifier, hubDvdv: config.hub.dvdv, dir: milestoneDirOf(config.dir), log: asLines(log) });
  return {
    consumer,
    async stop() {
      await milestones.stop();
      await consumer.stop();
      await nc.close();
    },
  };
}
