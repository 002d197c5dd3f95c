// The commands each office runs on its own machine, with its own configuration file: an
// agency's connector here, the submitting offices' commands in submitterCommands.ts.
import path from 'node:path';
import { runElterngeldConnector } from '../../../connectors/elterngeld/src/main.ts';
import { runFamilienkasseConnector } from '../../../connectors/familienkasse/src/main.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger, lineLog } from '../../../connectors/kit/logger.ts';
import { milestoneDirOf } from '../../../connectors/kit/milestoneFolder.ts';
import { milestoneOf, publishMilestone } from '../../../connectors/kit/milestones.ts';
import { openParty } from '../../../connectors/kit/party.ts';
import { loadPartyConfig, type PartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { MilestoneCodeSchema, MilestoneStatusSchema } from '../../../contracts/index.ts';
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
    notes: [`Role in the configuration: ${kind === 'elterngeld' ? 'elterngeldstelle (dvdv egs:<Standesamtsnummer-Präfix>, e.g. egs:11000000)' : 'familienkasse (dvdv fka:<name>, e.g. fka:nord)'}. Prints "ready: …" on stdout once it consumes; logs JSON lines on stderr; stops on SIGTERM.`, 'The hub is reached at nats://HOST:PORT (the "nats.url" of the configuration; TLS with the exchange CA; several nodes comma-separated).', 'Health: with "health": {"port": N} in the configuration, GET http://127.0.0.1:N/health answers 200, or 503 naming the failing components (deliveries, milestones), and GET /metrics their failure counts; without it, no port is opened.', 'Milestones from the case system: one JSON file each ({"deliveryId", "status", "code"?, "at"?}) dropped into <dir>/milestones/; moved to done/ once the hub logged it, to failed/ with <name>.error.json when refused, kept (sent again) while the hub does not answer.'],
    examples: [`elfe connector ${kind} --config data/parties/${kind === 'elterngeld' ? 'egs-11000000' : 'fka-nord'}/config.json`],
    run: (args, io) =>
      reportingErrors(io, async () => {
        const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' } });
        const config = configOf(values);
        // JSON lines on stderr (pino); stdout keeps the `ready:` line supervisors wait for.
        const logger = createLogger(`connector.${kind}`).child({ dvdv: config.dvdv });
        const log = lineLog(logger, 'connector.note');
        const running = kind === 'elterngeld' ? await runElterngeldConnector(config, log, { logger }) : await runFamilienkasseConnector(config, log, { logger });
        logger.info({ event: 'connector.ready', ...(running.healthDoor ? { health: running.healthDoor.url } : {}) }, 'consuming');
        io.out(`ready: ${config.role} ${config.dvdv} consuming; inbox ${config.inboxDir ?? path.join(config.dir, 'inbox')}; milestones ${milestoneDirOf(config.dir)}${running.healthDoor ? `; health ${running.healthDoor.url}/health` : ''}`);
        const why = await untilStopped();
        logger.info({ event: 'connector.stopping', reason: why }, 'stopping');
        await running.stop();
        return exitCode.ok;
      }, args.includes('--json')),
  };
}

const statusWords = MilestoneStatusSchema.options.join('|');

/** `elfe connector <kind> milestone`: what became of a hand-off this agency received, signed in its own name. */
function milestoneCommand(kind: 'elterngeld' | 'familienkasse'): Command {
  const role = kind === 'elterngeld' ? 'elterngeldstelle' : 'familienkasse';
  const benefit = kind === 'elterngeld' ? 'Elterngeld' : 'Kindergeld';
  return {
    path: ['connector', kind, 'milestone'],
    summary: `report what became of a hand-off this ${kind === 'elterngeld' ? 'Elterngeldstelle' : 'Familienkasse'} received (${statusWords}; no amounts, no reasons beyond a code); the family sees it on /sendungsverfolgung`,
    usage: `elfe connector ${kind} milestone --delivery ID --status ${statusWords} [--code CODE] --config FILE [--json]`,
    options: [
      { flag: '--delivery ID', text: 'the delivery id of the hand-off (its inbox file is named by it)', default: 'required' },
      { flag: '--status STATUS', text: `in-bearbeitung (${benefit} application being processed), bewilligt, abgelehnt, ausgezahlt`, default: 'required' },
      { flag: '--code CODE', text: "the agency's decision code (letters, digits, . _ -, at most 32); no free text" },
      { flag: '--config FILE', text: `the ${kind === 'elterngeld' ? 'Elterngeldstelle' : 'Familienkasse'}'s config.json (role ${role})`, default: 'required' },
      { flag: '--json', text: 'the result as one JSON object' },
    ],
    notes: ['Signed with the agency\'s key and published on its receipt subject; the hub logs it only if this agency is the recipient of that delivery (anything else is refused and recorded as a security event). The same report again is the same milestone (logged once).'],
    examples: [`elfe connector ${kind} milestone --delivery 0f8e…-… --status bewilligt --config data/parties/${kind === 'elterngeld' ? 'egs-11000000' : 'fka-nord'}/config.json`],
    run: (args, io) =>
      reportingErrors(
        io,
        async () => {
          const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' }, delivery: { type: 'string' }, status: { type: 'string' }, code: { type: 'string' } });
          if (!values.delivery || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values.delivery)) throw new UsageError('--delivery ID (a delivery id, a UUID) is required');
          const status = MilestoneStatusSchema.safeParse(values.status);
          if (!status.success) throw new UsageError(`--status is one of ${statusWords}`);
          if (values.code !== undefined && !MilestoneCodeSchema.safeParse(values.code).success) throw new UsageError('--code is letters, digits, ".", "_" or "-" (at most 32): a code, no free text');
          const config = configOf(values);
          if (config.role !== role) throw new UsageError(`this configuration is for a ${config.role}; use elfe connector ${config.role === 'elterngeldstelle' ? 'elterngeld' : 'familienkasse'} milestone`);
          const milestone = milestoneOf(config.dvdv, { deliveryId: values.delivery.toLowerCase(), status: status.data, code: values.code });
          const logger = createLogger(`connector.${kind}`).child({ dvdv: config.dvdv });
          const { trust, nc } = await openParty(config, lineLog(logger, 'connector.note'));
          try {
            const ack = await publishMilestone(nc, trust.signer, milestone);
            const result = { sent: true, milestoneId: milestone.milestoneId, deliveryId: milestone.deliveryId, status: milestone.status, ...(milestone.code ? { code: milestone.code } : {}), duplicate: ack.duplicate };
            if (values.json) io.out(JSON.stringify(result));
            else io.out(`milestone ${milestone.status}${milestone.code ? ` (${milestone.code})` : ''} for delivery ${milestone.deliveryId} sent${ack.duplicate ? ' (the same report again)' : ''}; the hub logs it if this delivery was for ${config.dvdv}`);
            return exitCode.ok;
          } finally {
            await nc.close();
          }
        },
        args.includes('--json'),
      ),
  };
}

export const partyCommands: readonly Command[] = [connectorCommand('elterngeld'), connectorCommand('familienkasse'), milestoneCommand('elterngeld'), milestoneCommand('familienkasse')];
