// The commands each office runs on its own machine, with its own configuration file: an
// agency's connector, a Standesamt's submissions (registration, correction, consent
// withdrawal, watch directory), the Meldebehörde's IdNr assignment.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRegisterKey, type GeburtenregisterKey, type Submission } from '../../../contracts/index.ts';
import { runElterngeldConnector } from '../../../connectors/elterngeld/src/main.ts';
import { runFamilienkasseConnector } from '../../../connectors/familienkasse/src/main.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger, lineLog } from '../../../connectors/kit/logger.ts';
import { loadPartyConfig, type PartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { correctionOf, idNrAssignmentOf, withdrawalOf } from '../../../connectors/standesamt/src/messages.ts';
import { openSubmitter, type Submitter } from '../../../connectors/standesamt/src/main.ts';
import { scanDirectory, watchDirectory, type WatchResult } from '../../../connectors/standesamt/src/watchDirectory.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

/** Typed errors of configuration and start-up become `{"error":{code,message}}` and exit 2; others propagate. */
export async function reportingErrors(io: Io, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || typeof code !== 'string') throw error;
    io.out(JSON.stringify({ error: { code, message: (error as Error).message } }));
    return exitCode.invalidInput;
  }
}

const configOf = (values: { config?: string | undefined }): PartyConfig => {
  if (!values.config) throw new UsageError('--config FILE is required');
  return loadPartyConfig(values.config);
};

const logTo = (io: Io) => (line: string) => io.err(line);

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

const registerOf = (text: string | undefined): GeburtenregisterKey => {
  if (!text) throw new UsageError('--register KEY is required (e.g. 11007007/G/2026/334)');
  const key = parseRegisterKey(text);
  if (!key.success) throw Object.assign(new Error(key.error.message), { code: 'invalid-register-key' });
  return key.data;
};

/** Sends one message through the outbox and prints the hub's answer. */
async function sendOne(io: Io, submitter: Submitter, event: Submission, json: boolean): Promise<number> {
  await submitter.connector.submit(event);
  const status = submitter.connector.status(event.messageId);
  if (json) {
    if (status?.status === 'rejected') {
      const [code, ...rest] = (status.error ?? 'rejected').split(': ');
      io.out(JSON.stringify({ error: { code, message: rest.join(': ') }, messageId: event.messageId }));
    } else io.out(JSON.stringify({ accepted: status?.status === 'delivered', messageId: event.messageId, ...status }));
  } else io.out(`${event.type} ${event.messageId}: ${status?.status ?? 'unknown'}${status?.error ? ` (${status.error})` : ''}`);
  if (status?.status === 'rejected') return exitCode.invalidInput;
  return status?.status === 'delivered' ? exitCode.ok : exitCode.failed;
}

const submitterOptions = { config: { type: 'string' }, json: { type: 'boolean' }, 'message-id': { type: 'string' } } as const;

async function withSubmitter(io: Io, config: PartyConfig, use: (s: Submitter) => Promise<number>): Promise<number> {
  const submitter = await openSubmitter(config, logTo(io), { timeoutMs: 5000 });
  try {
    return await use(submitter);
  } finally {
    await submitter.close();
  }
}

const standesamtSubmit: Command = {
  path: ['standesamt', 'submit'],
  summary: 'register a birth (081020 [+ 081021]) with the register key assigned at Beurkundung; kept in the outbox until the hub answers',
  usage: 'elfe standesamt submit 081020.xml [--with 081021.xml] --register 11007007/G/2026/334 --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values, positionals } = parseCommandArgs(args, { ...submitterOptions, with: { type: 'string' }, register: { type: 'string' } });
      const [file, ...extra] = positionals;
      if (!file || extra.length > 0) throw new UsageError('expects one 081020 FILE');
      const registerKey = registerOf(values.register);
      const config = configOf(values);
      return withSubmitter(io, config, async (s) => {
        const messageId = values['message-id'] ?? crypto.randomUUID();
        const result = await s.connector.submitXml({
          notice081020: readFileSync(file, 'utf8'),
          ...(values.with ? { supplement081021: readFileSync(values.with, 'utf8') } : {}),
          registerKey,
          messageId,
          occurredAt: new Date().toISOString(),
        });
        if (!result.success) {
          io.out(JSON.stringify({ error: result.error.toJSON() }));
          return exitCode.invalidInput;
        }
        return sendOne(io, s, result.data, values.json === true);
      });
    }),
};

const standesamtCorrect: Command = {
  path: ['standesamt', 'correct'],
  summary: 'send a correction of a registered birth (the registration as it reads now) to its earlier recipients',
  usage: 'elfe standesamt correct 081020.xml [--with 081021.xml] --register KEY --reason TEXT --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values, positionals } = parseCommandArgs(args, { ...submitterOptions, with: { type: 'string' }, register: { type: 'string' }, reason: { type: 'string' } });
      const [file, ...extra] = positionals;
      if (!file || extra.length > 0 || !values.reason) throw new UsageError('expects one 081020 FILE and --reason');
      const registerKey = registerOf(values.register);
      const config = configOf(values);
      return withSubmitter(io, config, async (s) => {
        const correction = correctionOf(
          s.trust.identity,
          { notice081020: readFileSync(file, 'utf8'), ...(values.with ? { supplement081021: readFileSync(values.with, 'utf8') } : {}), registerKey, reason: values.reason! },
          values['message-id'] ? { messageId: values['message-id'] } : {},
        );
        if (!correction.success) {
          io.out(JSON.stringify({ error: correction.error.toJSON() }));
          return exitCode.invalidInput;
        }
        return sendOne(io, s, correction.data, values.json === true);
      });
    }),
};

const standesamtWithdraw: Command = {
  path: ['standesamt', 'withdraw'],
  summary: "pass on the parents' withdrawal of consent to the Elterngeldstelle's notification (for the future)",
  usage: 'elfe standesamt withdraw --register KEY [--at ISO-TIME] --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { ...submitterOptions, register: { type: 'string' }, at: { type: 'string' } });
      const registerKey = registerOf(values.register);
      const at = values.at ?? new Date().toISOString();
      if (Number.isNaN(Date.parse(at))) throw new UsageError('--at must be an ISO 8601 time');
      const config = configOf(values);
      return withSubmitter(io, config, (s) => sendOne(io, s, withdrawalOf(s.trust.identity, registerKey, new Date(at).toISOString(), values['message-id'] ? { messageId: values['message-id'] } : {}), values.json === true));
    }),
};

const meldebehoerdeIdnr: Command = {
  path: ['meldebehoerde', 'idnr'],
  summary: "send the child's IdNr (and the parents') for a registered birth, as the Meldebehörde",
  usage: 'elfe meldebehoerde idnr --register KEY --child IDNR [--parent IDNR] [--parent2 IDNR] --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { ...submitterOptions, register: { type: 'string' }, child: { type: 'string' }, parent: { type: 'string' }, parent2: { type: 'string' } });
      const registerKey = registerOf(values.register);
      if (!values.child) throw new UsageError('--child IDNR is required');
      const config = configOf(values);
      return withSubmitter(io, config, (s) =>
        sendOne(
          io,
          s,
          idNrAssignmentOf(
            s.trust.identity,
            { registerKey, childIdNr: values.child!, ...(values.parent ? { parent1IdNr: values.parent } : {}), ...(values.parent2 ? { parent2IdNr: values.parent2 } : {}) },
            values['message-id'] ? { messageId: values['message-id'] } : {},
          ),
          values.json === true,
        ),
      );
    }),
};

const standesamtWatch: Command = {
  path: ['standesamt', 'watch'],
  summary: 'submit every birth dropped into DIR (<nummer>_G_<jahr>_<eintrag>.081020.xml [+ .081021.xml]) until SIGTERM',
  usage: 'elfe standesamt watch DIR --config FILE [--once]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values, positionals } = parseCommandArgs(args, { config: { type: 'string' }, once: { type: 'boolean' } });
      const [dir, ...extra] = positionals;
      if (!dir || extra.length > 0) throw new UsageError('expects exactly one DIR');
      const config = configOf(values);
      return withSubmitter(io, config, async (s) => {
        const report = (r: WatchResult) => io.out(JSON.stringify(r));
        if (values.once) {
          const results = await scanDirectory(path.resolve(dir), s.connector);
          results.forEach(report);
          await s.connector.flush();
          return results.some((r) => r.outcome === 'failed') ? exitCode.failed : exitCode.ok;
        }
        const watcher = watchDirectory(path.resolve(dir), s.connector, { onResult: report });
        io.out(`ready: watching ${path.resolve(dir)} as ${config.dvdv}`);
        const why = await untilStopped();
        io.err(`stopping (${why})`);
        await watcher.stop();
        return exitCode.ok;
      });
    }),
};

export const partyCommands: readonly Command[] = [
  connectorCommand('elterngeld'),
  connectorCommand('familienkasse'),
  standesamtSubmit,
  standesamtCorrect,
  standesamtWithdraw,
  standesamtWatch,
  meldebehoerdeIdnr,
];
