// The commands of the offices that submit, each on its own machine with its own
// configuration: a Standesamt registers, corrects, passes on a consent withdrawal and watches
// its drop folder; the Meldebehörde sends IdNrs; both read their outbox with `status`.
// Every command prints what happened in the hub's terms ("registered; Elterngeldstelle
// Bremen: scheduled; Familienkasse Ost: waits for the IdNr") from the hub's answer, never
// before it; run again after a crash or an unclear answer, it reports the same registration.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describeOutlook, parseRegisterKey, type GeburtenregisterKey, type HandOffOutlook, type SignerIdentity, type Submission, type XmlCodecError } from '../../../contracts/index.ts';
import { certificateTrust } from '../../../connectors/kit/trust.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger, type Logger } from '../../../connectors/kit/logger.ts';
import { loadPartyConfig, type PartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { openSubmitter, outboxFileOf, type Submitter } from '../../../connectors/standesamt/src/main.ts';
import { correctionOf, idNrAssignmentOf, registrationOf, trackingRevocationOf, withdrawalOf } from '../../../connectors/standesamt/src/messages.ts';
import { Outbox, type OutboxRecord } from '../../../connectors/standesamt/src/outbox.ts';
import { enqueueSigned, type ConnectorLog } from '../../../connectors/standesamt/src/standesamtConnector.ts';
import { hintFor, scanDirectory, watchDirectory, type WatchResult } from '../../../connectors/standesamt/src/watchDirectory.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

/** The hub did not answer (yet): the submission waits in the outbox; run again or keep a watcher running. */
export const notAnsweredExit = 75;

const configOf = (values: { config?: string | undefined }): PartyConfig => {
  if (!values.config) throw new UsageError('--config FILE is required');
  return loadPartyConfig(values.config);
};

const registerOf = (text: string | undefined): GeburtenregisterKey => {
  if (!text) throw new UsageError('--register KEY is required (e.g. 11007007/G/2026/334)');
  const key = parseRegisterKey(text);
  if (!key.success) throw Object.assign(new Error(key.error.message), { code: 'invalid-register-key' });
  return key.data;
};

const connectorLog =
  (logger: Logger): ConnectorLog =>
  (level, event, fields, message) =>
    logger[level]({ ...fields, event }, message);

/** A submitting party's process: JSON lines on stderr (pino), never names or IdNrs. */
function partyLogger(config: PartyConfig): Logger {
  return createLogger(config.role).child({ dvdv: config.dvdv });
}

async function withSubmitter(config: PartyConfig, use: (s: Submitter, logger: Logger) => Promise<number>): Promise<number> {
  const logger = partyLogger(config);
  const submitter = await openSubmitter(config, (line) => logger.info({ event: 'nats.waiting' }, line), { timeoutMs: 5000, events: connectorLog(logger) });
  try {
    return await use(submitter, logger);
  } finally {
    await submitter.close();
  }
}

type Built = Submission | { success: true; data: Submission } | { success: false; error: XmlCodecError };

/**
 * One submission as an office sends it: built and signed in the office's own name, stored in
 * its outbox first (durably, so a hub that cannot be reached loses nothing), then sent; the
 * hub's answer (or that there was none) is printed.
 */
async function submitOne(io: Io, config: PartyConfig, build: (identity: SignerIdentity) => Built, json: boolean): Promise<number> {
  const trust = certificateTrust({ dir: config.dir, caCertFile: config.trust.caCertFile, crlFile: config.trust.crlFile });
  const built = build(trust.identity);
  if ('success' in built && !built.success) return reportXmlError(io, built.error, json);
  const event = 'success' in built ? built.data : built;
  const outbox = new Outbox(outboxFileOf(config));
  // Registered before (a run again after an unclear answer): the outbox kept the hub's answer.
  let answeredBefore = false;
  try {
    answeredBefore = outbox.status(event.messageId)?.status === 'accepted';
    const queued = enqueueSigned(outbox, trust.signer, event, config.clockSkewSeconds * 1000);
    if (!queued.success) {
      const error = { ...queued.error, hint: hintFor(queued.error.code) };
      if (json) io.out(JSON.stringify({ error, messageId: event.messageId }));
      else io.out(`refused (${error.code}): ${error.message}\nwhat to do: ${error.hint}`);
      return exitCode.invalidInput;
    }
  } finally {
    outbox.close();
  }
  let record: OutboxRecord | undefined;
  try {
    await withSubmitter(config, async (s) => {
      await s.connector.flush();
      return exitCode.ok;
    });
    record = readRecord(config, event.messageId);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'dependency-unavailable') throw error;
    record = readRecord(config, event.messageId);
  }
  if (!record) throw new Error(`the outbox lost ${event.messageId}`);
  return reportAnswer(io, answeredBefore ? { ...record, duplicate: true } : record, event.type, json);
}

function readRecord(config: PartyConfig, messageId: string): OutboxRecord | undefined {
  const outbox = new Outbox(outboxFileOf(config));
  try {
    return outbox.status(messageId);
  } finally {
    outbox.close();
  }
}


const doneWords: Record<Submission['type'], string> = {
  BirthRegistered: 'registered',
  BirthRegistrationCorrected: 'correction registered',
  ParentalConsentWithdrawn: 'consent withdrawal registered',
  ChildIdNrAssigned: 'IdNr registered',
  TrackingCodeRevoked: 'tracking code revoked',
};

/** The tracking code for the parents (Sendungsverfolgung), as the hub answered it. */
const trackingText = (code: string | null | undefined) => (code ? `\ntracking code for the parents: ${code} (to hand over with the birth certificate; the family sees the hand-offs at /sendungsverfolgung)` : '');

const routingText = (routing: unknown) => (Array.isArray(routing) && routing.length > 0 ? `; ${describeOutlook(routing as HandOffOutlook[])}` : '');

/** Prints one outbox entry's state as the hub answered it; returns the exit code. */
function reportAnswer(io: Io, record: OutboxRecord, type: Submission['type'], json: boolean): number {
  if (record.status === 'accepted') {
    if (json) io.out(JSON.stringify({ accepted: true, type, messageId: record.messageId, registerKey: record.registerKey, position: record.position, duplicate: record.duplicate, routing: record.routing ?? [], ...(record.trackingCode ? { trackingCode: record.trackingCode } : {}) }));
    else io.out(`${record.duplicate ? `already ${doneWords[type]} (the same submission)` : doneWords[type]}: ${record.registerKey}, log position ${record.position}${routingText(record.routing)}${trackingText(record.trackingCode)}`);
    return exitCode.ok;
  }
  if (record.status === 'refused') {
    const error = { code: record.code ?? 'refused', message: record.error ?? '', hint: hintFor(record.code ?? '', record.registerKey) };
    if (json) io.out(JSON.stringify({ error, messageId: record.messageId, registerKey: record.registerKey }));
    else io.out(`refused (${error.code}): ${error.message}\nwhat to do: ${error.hint}`);
    return exitCode.invalidInput;
  }
  const message = "the hub has not answered yet: the submission waits in this office's outbox and is sent again by the next command or a running watcher";
  if (json) io.out(JSON.stringify({ accepted: false, pending: true, type, messageId: record.messageId, registerKey: record.registerKey, message }));
  else io.out(`not answered yet (${record.registerKey}): ${message}; see elfe ${type === 'ChildIdNrAssigned' ? 'meldebehoerde' : 'standesamt'} status --register ${record.registerKey}`);
  return notAnsweredExit;
}

/** An XML reader's refusal, before anything is signed. */
function reportXmlError(io: Io, error: { toJSON(): { code: string; message: string; path: string } }, json: boolean): number {
  const e = error.toJSON();
  if (json) io.out(JSON.stringify({ error: { ...e, hint: hintFor(e.code) } }));
  else io.out(`refused (${e.code}): ${e.message} at ${e.path}\nwhat to do: ${hintFor(e.code)}`);
  return exitCode.invalidInput;
}

const submitterOptions = { config: { type: 'string' }, json: { type: 'boolean' }, 'message-id': { type: 'string' } } as const;
const idOption = (values: { 'message-id'?: string | undefined }) => (values['message-id'] ? { messageId: values['message-id'] } : {});

const standesamtSubmit: Command = {
  path: ['standesamt', 'submit'],
  summary: 'register a birth (081020 [+ 081021]) with the register key assigned at Beurkundung; kept in the outbox until the hub answers',
  usage: 'elfe standesamt submit 081020.xml [--with 081021.xml] --register 11007007/G/2026/334 --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values, positionals } = parseCommandArgs(args, { ...submitterOptions, with: { type: 'string' }, register: { type: 'string' } });
        const [file, ...extra] = positionals;
        if (!file || extra.length > 0) throw new UsageError('expects one 081020 FILE');
        const registerKey = registerOf(values.register);
        const config = configOf(values);
        const json = values.json === true;
        const input = { notice081020: readFileSync(file, 'utf8'), ...(values.with ? { supplement081021: readFileSync(values.with, 'utf8') } : {}), registerKey };
        return submitOne(io, config, (identity) => registrationOf(identity, input, idOption(values)), json);
      },
      args.includes('--json'),
    ),
};

const standesamtCorrect: Command = {
  path: ['standesamt', 'correct'],
  summary: 'send a correction of a registered birth (the registration as it reads now) to its earlier recipients',
  usage: 'elfe standesamt correct 081020.xml [--with 081021.xml] --register KEY --reason TEXT --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values, positionals } = parseCommandArgs(args, { ...submitterOptions, with: { type: 'string' }, register: { type: 'string' }, reason: { type: 'string' } });
        const [file, ...extra] = positionals;
        if (!file || extra.length > 0 || !values.reason) throw new UsageError('expects one 081020 FILE and --reason');
        const registerKey = registerOf(values.register);
        const config = configOf(values);
        const json = values.json === true;
        const input = { notice081020: readFileSync(file, 'utf8'), ...(values.with ? { supplement081021: readFileSync(values.with, 'utf8') } : {}), registerKey, reason: values.reason! };
        return submitOne(io, config, (identity) => correctionOf(identity, input, idOption(values)), json);
      },
      args.includes('--json'),
    ),
};

const standesamtWithdraw: Command = {
  path: ['standesamt', 'withdraw'],
  summary: "pass on the parents' withdrawal of consent to the Elterngeldstelle's notification (for the future)",
  usage: 'elfe standesamt withdraw --register KEY [--at ISO-TIME] --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values } = parseCommandArgs(args, { ...submitterOptions, register: { type: 'string' }, at: { type: 'string' } });
        const registerKey = registerOf(values.register);
        const at = values.at ?? new Date().toISOString();
        if (Number.isNaN(Date.parse(at))) throw new UsageError('--at must be an ISO 8601 time');
        const config = configOf(values);
        return submitOne(io, config, (identity) => withdrawalOf(identity, registerKey, new Date(at).toISOString(), idOption(values)), values.json === true);
      },
      args.includes('--json'),
    ),
};

const standesamtRevokeTracking: Command = {
  path: ['standesamt', 'revoke-tracking-code'],
  summary: "revoke a birth's tracking code for the parents (lost, or handed to the wrong person): the old code shows nothing any more; the answer carries the new one",
  usage: 'elfe standesamt revoke-tracking-code --register KEY --config FILE [--json]',
  options: [
    { flag: '--register KEY', text: 'the Geburtenregister key of the birth (Standesamtsnummer/G/year/entry), e.g. 11007007/G/2026/334', default: 'required' },
    { flag: '--config FILE', text: "the Standesamt's config.json (role standesamt, dvdv psw:<Standesamtsnummer>)", default: 'required' },
    { flag: '--json', text: 'the answer as one JSON object (with trackingCode, the new code)' },
  ],
  examples: ['elfe standesamt revoke-tracking-code --register 11007007/G/2026/334 --config data/parties/psw-11007007/config.json'],
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' }, register: { type: 'string' } });
        const registerKey = registerOf(values.register);
        const config = configOf(values);
        if (config.role !== 'standesamt') throw new UsageError(`this configuration is for a ${config.role}; only the Standesamt of the birth revokes its tracking code`);
        return submitOne(io, config, (identity) => trackingRevocationOf(identity, registerKey, new Date().toISOString()), values.json === true);
      },
      args.includes('--json'),
    ),
};

const meldebehoerdeIdnr: Command = {
  path: ['meldebehoerde', 'idnr'],
  summary: "send the child's IdNr (and the parents') for a registered birth, as the Meldebehörde",
  usage: 'elfe meldebehoerde idnr --register KEY --child IDNR [--parent IDNR] [--parent2 IDNR] [--correct REASON] --config FILE [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values } = parseCommandArgs(args, { ...submitterOptions, register: { type: 'string' }, child: { type: 'string' }, parent: { type: 'string' }, parent2: { type: 'string' }, correct: { type: 'string' } });
        const registerKey = registerOf(values.register);
        if (!values.child) throw new UsageError('--child IDNR is required');
        const config = configOf(values);
        const ids = {
          registerKey,
          childIdNr: values.child,
          ...(values.parent ? { parent1IdNr: values.parent } : {}),
          ...(values.parent2 ? { parent2IdNr: values.parent2 } : {}),
          // A different IdNr replaces an earlier one only as an explicit correction, with its reason.
          ...(values.correct ? { correctionReason: values.correct } : {}),
        };
        return submitOne(io, config, (identity) => idNrAssignmentOf(identity, ids, idOption(values)), values.json === true);
      },
      args.includes('--json'),
    ),
};

const standesamtWatch: Command = {
  path: ['standesamt', 'watch'],
  summary: 'register every birth dropped into DIR (<nummer>_G_<jahr>_<eintrag>.081020.xml [+ .081021.xml]): done/ once the hub registered it, failed/ with the reason; until SIGTERM',
  usage: 'elfe standesamt watch DIR --config FILE [--once] [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values, positionals } = parseCommandArgs(args, { config: { type: 'string' }, once: { type: 'boolean' }, json: { type: 'boolean' } });
        const [dir, ...extra] = positionals;
        if (!dir || extra.length > 0) throw new UsageError('expects exactly one DIR');
        const config = configOf(values);
        const watchOptions = (logger: Logger) => ({ pairWindowMs: config.watch.pairWindowSeconds * 1000, log: connectorLog(logger) });
        return withSubmitter(config, async (s, logger) => {
          if (values.once) {
            const results = await scanDirectory(path.resolve(dir), s.connector, watchOptions(logger));
            for (const r of results) io.out(values.json ? JSON.stringify(r) : describeResult(r));
            return results.some((r) => r.outcome === 'failed') ? exitCode.failed : exitCode.ok;
          }
          // Outcomes go to the log (no personal data); done/ and failed/ and `status` show the rest.
          const watcher = watchDirectory(path.resolve(dir), s.connector, { ...watchOptions(logger), intervalMs: config.watch.intervalMs, lifecycle: s.lifecycle });
          logger.info({ event: 'watch.ready', pairWindowMs: config.watch.pairWindowSeconds * 1000 }, 'watching the drop folder');
          io.out(`ready: watching ${path.resolve(dir)} as ${config.dvdv}`);
          const why = await untilStopped();
          logger.info({ event: 'watch.stopping', reason: why }, 'stopping');
          await watcher.stop();
          return exitCode.ok;
        });
      },
      args.includes('--json'),
    ),
};

function describeResult(r: WatchResult): string {
  if (r.outcome === 'done') return `done: ${r.files.join(' + ')} ${r.kind === 'correction' ? 'correction registered' : r.answer?.duplicate ? 'already registered' : 'registered'}${routingText(r.answer?.routing)}`;
  return `failed: ${r.files.join(' + ')} (${r.error?.code}): ${r.error?.message}\nwhat to do: ${r.hint}`;
}

const statusWords: Record<OutboxRecord['status'], string> = { pending: 'pending ', accepted: 'accepted', refused: 'refused ' };
const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') + ' UTC' : '');

function statusCommand(role: 'standesamt' | 'meldebehoerde'): Command {
  return {
    path: [role, 'status'],
    summary: `the ${role === 'standesamt' ? "Standesamt's" : "Meldebehörde's"} outbox: what waits for the hub, what it accepted, what it refused and why (reads the outbox only; works while the hub is down)`,
    usage: `elfe ${role} status --config FILE [--register KEY] [--json]`,
    run: (args, io) =>
      reportingErrors(
        io,
        async () => {
          const { values } = parseCommandArgs(args, { config: { type: 'string' }, register: { type: 'string' }, json: { type: 'boolean' } });
          const config = configOf(values);
          if (config.role !== role) throw new UsageError(`this configuration is for a ${config.role}; use elfe ${config.role} status`);
          const registerKey = values.register ? registerOf(values.register) : undefined;
          const outbox = new Outbox(outboxFileOf(config));
          try {
            // What is past its retention leaves the outbox before anything is shown.
            outbox.prune(config.outbox.retentionHours * 3_600_000);
            const keyText = registerKey ? `${registerKey.standesamtsnummer}/${registerKey.registerart}/${registerKey.jahr}/${registerKey.eintragsnummer}` : undefined;
            const entries = outbox.list(keyText).map((e) => ({ ...e, ...(e.status === 'refused' ? { hint: hintFor(e.code ?? '', e.registerKey) } : {}) }));
            const counts = outbox.counts();
            if (values.json) {
              io.out(JSON.stringify({ party: { dvdv: config.dvdv, name: config.name }, retentionHours: config.outbox.retentionHours, counts, entries }));
            } else {
              io.out(`${config.name} (${config.dvdv}): ${counts.pending} pending, ${counts.accepted} accepted, ${counts.refused} refused; answered entries are kept ${config.outbox.retentionHours} h`);
              for (const e of entries) {
                const what = e.status === 'accepted' ? `log position ${e.position}${e.duplicate ? ' (sent again)' : ''}${routingText(e.routing)}` : e.status === 'refused' ? `${e.code}: ${e.error}` : "waiting for the hub's answer";
                io.out(`${statusWords[e.status]}  ${e.registerKey}  ${e.type ?? ''}  ${minute(e.answeredAt ?? e.createdAt)}  ${what}`);
              }
              // The current tracking code per birth: the latest the hub answered (a revocation's answer carries the new one).
              const codes = new Map<string, string>();
              for (const e of entries) if (e.trackingCode) codes.set(e.registerKey, e.trackingCode);
              for (const [key, code] of codes) io.out(`tracking code for the parents of ${key}: ${code}`);
              if (registerKey && entries.length === 0) io.out('no entry for this register key (never sent from here, or answered longer ago than the retention)');
            }
            return exitCode.ok;
          } finally {
            outbox.close();
          }
        },
        args.includes('--json'),
      ),
  };
}

export const submitterCommands: readonly Command[] = [
  standesamtSubmit,
  standesamtCorrect,
  standesamtWithdraw,
  standesamtWatch,
  standesamtRevokeTracking,
  statusCommand('standesamt'),
  meldebehoerdeIdnr,
  statusCommand('meldebehoerde'),
];
