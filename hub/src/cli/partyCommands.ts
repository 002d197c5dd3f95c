// The commands each office runs on its own machine, with its own configuration file: an
// agency's connector here, the submitting offices' commands in submitterCommands.ts.
import path from 'node:path';
import { runElterngeldConnector } from '../../../connectors/elterngeld/src/main.ts';
import { runFamilienkasseConnector } from '../../../connectors/familienkasse/src/main.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger, lineLog } from '../../../connectors/kit/logger.ts';
import { loadPartyConfig, type PartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

/**
 * Typed errors of configuration and start-up become `{"error":{code,message}}` (or, with
 * `json` false, one readable line) and exit 2; others propagate.
 */
export async function reportingErrors(io: Io, run: () => Promise<number>, json = true): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || typeof code !== 'string') throw error;
    if (json) io.out(JSON.stringify({ error: { code, message: (error as Error).message } }));
    else io.err(`error (${code}): ${(error as Error).message}`);
    return exitCode.invalidInput;
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
    usage: `elfe connector ${kind} --config FILE`,
    run: (args, io) =>
      reportingErrors(io, async () => {
        const { values } = parseCommandArgs(args, { config: { type: 'string' } });
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
      }),
  };
}

export const partyCommands: readonly Command[] = [connectorCommand('elterngeld'), connectorCommand('familienkasse')];
