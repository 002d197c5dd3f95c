// `elfe connector familienkasse --config FILE`: one Familienkasse's connector as its own
// process, with its own key, certificate, state and inbox.
import { agencyConsumerOptionsOf, runAgencyConnector, type AgencyConnectorOptions, type RunningAgencyConnector } from '../../kit/agencyConnector.ts';
import { PartyConfigError, type PartyConfig } from '../../kit/partyConfig.ts';
import { startFamilienkasseConnector } from './familienkasseConnector.ts';

export async function runFamilienkasseConnector(config: PartyConfig, log: (line: string) => void, options: AgencyConnectorOptions = {}): Promise<RunningAgencyConnector> {
  if (config.role !== 'familienkasse') throw new PartyConfigError(`this configuration is for a ${config.role}, not a Familienkasse`);
  return runAgencyConnector(config, log, options, (party, lifecycle) => startFamilienkasseConnector(agencyConsumerOptionsOf(config, party, log, lifecycle)));
}
