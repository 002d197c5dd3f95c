// `elfe connector elterngeld --config FILE`: one Elterngeldstelle's connector as its own
// process, with its own key, certificate, state and inbox.
import type { Author } from '../../../contracts/index.ts';
import { agencyConsumerOptionsOf, runAgencyConnector, type AgencyConnectorOptions, type RunningAgencyConnector } from '../../kit/agencyConnector.ts';
import { PartyConfigError, type PartyConfig } from '../../kit/partyConfig.ts';
import { startElterngeldConnector } from './elterngeldConnector.ts';

export type RunningConnector = RunningAgencyConnector;

export async function runElterngeldConnector(config: PartyConfig, log: (line: string) => void, options: AgencyConnectorOptions = {}): Promise<RunningConnector> {
  if (config.role !== 'elterngeldstelle') throw new PartyConfigError(`this configuration is for a ${config.role}, not an Elterngeldstelle`);
  const author = (nummer: string): Author => {
    const entry = config.standesaemter.find((s) => s.standesamtsnummer === nummer);
    // Without header data for the Standesamt, 131011 still names it by its DVDV address.
    return entry ? { dvdv: `psw:${nummer}`, name: entry.name, phone: entry.phone, address: entry.address } : { dvdv: `psw:${nummer}`, name: `Standesamt ${nummer}`, phone: 'unbekannt', address: { postcode: '00000', city: 'unbekannt' } };
  };
  return runAgencyConnector(config, log, options, (party, lifecycle) => startElterngeldConnector({ ...agencyConsumerOptionsOf(config, party, log, lifecycle), name: config.name, author }));
}
