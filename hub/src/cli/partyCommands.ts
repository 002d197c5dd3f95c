// The commands each office runs on its own machine, with its own configuration file: an
// agency's connector here, the submitting offices' commands in submitterCommands.ts.
import path from 'node:path';
import { runElterngeldConnector } from '../../../connectors/elterngeld/src/main.ts';
import { runFamilienkasseConnector } from '../../../connectors/familienkasse/src/main.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger, lineLog } from '../../../connectors/kit/logger.ts';
import { loadPartyConfig, type PartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { exitCode, parseCommandArgs, reportError, UsageError, type Command, type Io } from './command.ts';

/**
 * Typed errors of configuration and start-up (those with a string `code`) become one line on
 * stderr (with `json`: `{"error":{code,message,hint}}`) and exit 2; others propagate.
 */
export async function reportingErrors(io: Io, run: () => Promise<number>, json = false): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || typeof code !== 'string') throw error;
    return reportError(io, error as Error, json);
  }
}

const configOf = (values: { config?: string | undefined }): PartyConfig => {
  if (!values.config) throw new UsageError('--config FILE is required');
  return loadPartyConfig(values.config);
};


function connectorCommand(kind: 'elterngeld' | 'familienkasse'): Command {
  return {
    path: ['connector', kind],
    summary: `run ${kind === 'elterngeld' ? 'an Elterngeldstelle' : 'a Familienkasse'}'s connector (own key, certificate, state and inbox) until SIGTERM`,
    usage: `elfe connector ${kind} --config FILE [--json]`,
    options: [
      { flag: '--config FILE', text: `the ${kind === 'elterngeld' ? 'Elterngeldstelle' : 'Familienkasse'}'s config.json (role, dvdv, hub nats://HOST:PORT, key, certificate, CA, CRL, inbox)`, default: 'required' },
      { flag: '--json', text: 'a start failure as {"error":{code,message,hint}} on stderr' },
    ],
    notes: [`Role in the configuration: ${kind === 'elterngeld' ? 'elterngeldstelle (dvdv egs:<Standesamtsnummer-Präfix>, e.g. egs:11000000)' : 'familienkasse (dvdv fka:<name>, e.g. fka:nord)'}. Prints "ready: …" on stdout once it consumes; logs JSON lines on stderr; stops on SIGTERM.`, 'The hub is reached at nats://HOST:PORT (the "nats.url" of the configuration; TLS with the exchange CA; several nodes comma-separated).'],
    examples: [`elfe connector ${kind} --config data/parties/${kind === 'elterngeld' ? 'egs-11000000' : 'fka-nord'}/config.json`],
    run: (args, io) =>
      reportingErrors(io, async () => {
        const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' } });
        const config = configOf(values);
        // JSON lines on stderr (pino); stdout keeps the `ready:` line supervisors wait for.
        const logger = createLogger(`connector.${kind}`).child({ dvdv: config.dvdv });
        const log = lineLog(logger, 'connector.note');
        const running = kind === 'elterngeld' ? await runElterngeldConnector(config, log) : await runFamilienkasseConnector(config, log);
        logger.info({ event: 'connector.ready' }, 'consuming');
        io.out(`ready: ${config.role} ${config.dvdv} consuming; inbox ${config.inboxDir ?? path.join(config.dir, 'inbox')}`);
        const why = await untilStopped();
        logger.info({ event: 'connector.stopping', reason: why }, 'stopping');
        await running.stop();
        return exitCode.ok;
      }, args.includes('--json')),
  };
}

export const partyCommands: readonly Command[] = [connectorCommand('elterngeld'), connectorCommand('familienkasse')];
