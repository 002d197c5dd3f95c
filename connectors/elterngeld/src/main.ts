// `elfe connector elterngeld --config FILE`: one Elterngeldstelle's connector as its own
// process, with its own key, certificate, state and inbox.
import path from 'node:path';
import type { Author } from '../../../contracts/index.ts';
import type { AgencyConsumer } from '../../kit/agencyConsumer.ts';
import { asLines, milestoneDirOf, watchMilestoneFolder } from '../../kit/milestoneFolder.ts';
import { openParty } from '../../kit/party.ts';
import { PartyConfigError, type PartyConfig } from '../../kit/partyConfig.ts';
import { startElterngeldConnector } from './elterngeldConnector.ts';

export interface RunningConnector {
  readonly consumer: AgencyConsumer;
  stop(): Promise<void>;
}

export async function runElterngeldConnector(config: PartyConfig, log: (line: string) => void): Promise<RunningConnector> {
  if (config.role !== 'elterngeldstelle') throw new PartyConfigError(`this configuration is for a ${config.role}, not an Elterngeldstelle`);
  const { trust, nc } = await openParty(config, log);
  const author = (nummer: string): Author => {
    const entry = config.standesaemter.find((s) => s.standesamtsnummer === nummer);
    // Without header data for the Standesamt, 131011 still names it by its DVDV address.
    return entry ? { dvdv: `psw:${nummer}`, name: entry.name, phone: entry.phone, address: entry.address } : { dvdv: `psw:${nummer}`, name: `Standesamt ${nummer}`, phone: 'unbekannt', address: { postcode: '00000', city: 'unbekannt' } };
  };
  const consumer = await startElterngeldConnector({
    nc,
    dvdv: config.dvdv,
    name: config.name,
    signer: trust.signer,
    hubVerifier: trust.verifier,
    hubDvdv: config.hub.dvdv,
    decryptionKey: trust.decryptionKey,
    inboxDir: config.inboxDir ?? path.join(config.dir, 'inbox'),
    stateDir: path.join(config.dir, 'state'),
    maxDeliver: config.delivery.maxDeliver,
    ackWaitMs: config.delivery.ackWaitMs,
    author,
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
