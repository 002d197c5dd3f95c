// The hub's own process (`elfe hub start`), the one-machine exchange (`elfe exchange init`,
// `elfe start`: every party its own child process and directory) and the demo.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger } from '../../../connectors/kit/logger.ts';
import { checkHubPrerequisites, requireFreePort, startHub } from '../app/hub.ts';
import { dashboardLine, enrolAuditor, provisionExchange, witnessCommand, type Exchange } from '../app/exchange.ts';
import { loadConfig } from '../config/config.ts';
import { freePort } from '../infra/nats/natsServer.ts';
import { ignoredByGit } from '../pki/pki.ts';
import { runDemo } from '../demo/demo.ts';
import { runExchange, type RunningExchange } from '../runner/exchangeRunner.ts';
import { ChildGaveUpError, type ChildGivenUp } from '../runner/partyProcess.ts';
import { demoReport } from '../demo/report.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

function progressBar(io: Io) {
  let last = '';
  return (phase: string, done: number, total: number) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((Math.min(done, total) / total) * width);
    const line = `${phase.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    if (line !== last) io.err(`\r${line}`.replace(/\n$/, ''));
    last = line;
  };
}

const hubStart: Command = {
  path: ['hub', 'start'],
  summary: 'run the hub alone (log, ingress, routing, relay, receipts; a local nats-server without nats.url) until SIGTERM',
  usage: 'elfe hub start [--config FILE] [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' } });
      const config = loadConfig(values.config);
      // JSON lines on stderr; stdout keeps the `ready:` line supervisors wait for.
      const logger = createLogger('hub');
      const hub = await startHub(config, { logger });
      io.out(`ready: elfe-hub data ${config.dataDir}, NATS ${hub.natsUrl}${hub.metricsPort !== undefined ? `, metrics http://127.0.0.1:${hub.metricsPort}/metrics` : ''}`);
      io.out(`hub verifier key: ${hub.log.verifierKey}`);
      if (hub.lease) {
        io.out(`sequencer: lease epoch ${hub.lease.epoch} (stood by ${hub.lease.waitedMs} ms)`);
        // Crash-only: a hub that lost its lease stops at once (its appends are fenced anyway);
        // started again, it stands by.
        void hub.lease.lost.then((error) => {
          io.err(`sequencer lease lost (${error.message}): exiting`);
          process.exit(75);
        });
      }
      const why = await untilStopped();
      logger.info({ event: 'hub.stopping', reason: why }, 'stopping');
      await hub.stop();
      return exitCode.ok;
    }, args.includes('--json')),
};

const dataOption = { data: { type: 'string' }, 'nats-port': { type: 'string' }, 'metrics-port': { type: 'string' }, 'api-port': { type: 'string' }, 'witness-port': { type: 'string' }, json: { type: 'boolean' } } as const;
const portOf = (text: string | undefined, fallback: number) => {
  const port = Number(text ?? fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('ports are whole numbers from 0 to 65535');
  return port;
};

/** `apiPort`: the API's port when `--api-port` is not given (none: no API unless asked for). */
const provision = async (values: { data?: string | undefined; 'nats-port'?: string | undefined; 'metrics-port'?: string | undefined; 'api-port'?: string | undefined; 'witness-port'?: string | undefined }, defaults: { apiPort?: number } = {}): Promise<Exchange> => {
  const apiPort = values['api-port'] !== undefined ? portOf(values['api-port'], 8443) : defaults.apiPort;
  // The local witness's port: a free one when laid out (then kept in witness/config.json).
  const witnessPort = values['witness-port'] !== undefined ? portOf(values['witness-port'], 0) : await freePort();
  // Keys of every party and the CA's: ignored by git wherever the directory lies.
  const root = path.resolve(values.data ?? 'data');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  ignoredByGit(root);
  return provisionExchange(path.resolve(values.data ?? 'data'), { natsPort: portOf(values['nats-port'], 4222), metricsPort: portOf(values['metrics-port'], 9464), ...(apiPort !== undefined ? { apiPort } : {}), witness: { port: witnessPort } });
};

const exchangeInit: Command = {
  path: ['exchange', 'init'],
  summary: 'lay out a whole exchange on this machine: the CA, and every party with its own key, certificate (from a CSR) and configuration',
  usage: 'elfe exchange init [--data DIR] [--nats-port 4222] [--metrics-port 9464] [--api-port PORT] [--witness-port PORT] [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, dataOption);
      const exchange = await provision(values);
      const auditor = exchange.apiPort !== undefined ? await enrolAuditor(exchange) : undefined;
      io.out(JSON.stringify({ root: exchange.root, ca: exchange.caDir, hub: exchange.hubConfigFile, nats: exchange.natsUrl, ...(auditor ? { dashboard: `https://127.0.0.1:${exchange.apiPort}/`, auditor: { cert: auditor.certFile, key: auditor.keyFile } } : {}), ...(exchange.witness ? { witness: { url: exchange.witness.url, verifierKey: exchange.witness.verifierKey, config: exchange.witness.configFile, run: `elfe ${witnessCommand(exchange.witness).join(' ')}` } } : {}), parties: exchange.parties.map((p) => ({ name: p.name, role: p.role, dvdv: p.dvdv, config: p.configFile })) }, null, 2));
      return exitCode.ok;
    }, args.includes('--json')),
};

/** A child given up: at error level with its last lines (JSON, like every log line on stderr). */
function reportGivenUp(given: ChildGivenUp): void {
  createLogger('supervisor').error(
    { event: 'supervisor.gave-up', child: given.name, tries: given.tries, code: given.code, signal: given.signal, lastLines: given.lastLines },
    given.refused ? `${given.name} refused to start (exit 2): not started again` : `${given.name} died ${given.tries} times in a row soon after starting: given up`,
  );
}

/**
 * Every party of the exchange as its own child process, through the exchange runner: the
 * witness and the hub first (the hub's first checkpoint finds its witness), the parties once the
 * hub is ready (no retries against a NATS that is not there yet); a child that dies is started
 * again, one given up ends it all. A failed start stops what started.
 */
export async function startExchangeProcesses(exchange: Exchange, log: (name: string, line: string) => void): Promise<RunningExchange> {
  try {
    return await runExchange({ layout: exchange, log, restart: { onGiveUp: reportGivenUp }, exitWithParent: true });
  } catch (error) {
    throw error instanceof ChildGaveUpError ? error : Object.assign(new Error(`the exchange's parties did not become ready: ${(error as Error).message}`), { code: 'hub-not-ready', hint: 'its log lines are above' });
  }
}

const start: Command = {
  path: ['start'],
  summary: 'run the whole exchange on this machine, each party as its own process with its own directory (embedded defaults in ./data)',
  usage: 'elfe start [--data DIR] [--nats-port 4222] [--metrics-port 9464] [--api-port 8443] [--witness-port PORT] [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, dataOption);
      const exchange = await provision(values, { apiPort: 8443 });
      // Identities, nats-server and ports are checked here, before any process starts: a busy port is named, not retried.
      await checkHubPrerequisites(loadConfig(exchange.hubConfigFile));
      if (exchange.witness) await requireFreePort(exchange.witness.port, `the local witness, ${exchange.witness.configFile}`);
      for (const p of exchange.parties.filter((p) => p.role === 'standesamt')) mkdirSync(path.join(p.dir, 'watch'), { recursive: true });
      const auditor = await enrolAuditor(exchange);
      // Where the dashboard will be (before the hub's ready line, which scripts wait for).
      io.err(exchange.apiPort !== undefined ? dashboardLine(exchange.apiPort, auditor) : `dashboard: off (no "api" in ${exchange.hubConfigFile})`);
      const running = await startExchangeProcesses(exchange, (name, line) => io.err(`[${name}] ${line}`));
      io.out(`elfe exchange running from ${exchange.root}: NATS ${exchange.natsUrl}${exchange.metricsPort !== undefined ? `, metrics http://127.0.0.1:${exchange.metricsPort}/metrics` : ''}`);
      if (exchange.witness) io.out(`witness: ${exchange.witness.url} (${exchange.witness.configFile}) cosigns every checkpoint of the hub; witnesses on other organisations' machines: README, Witnesses`);
      io.out(`Standesämter drop births into ${path.join(exchange.root, 'parties', 'sta-<nummer>', 'watch')}; agencies' inboxes are ${path.join(exchange.root, 'parties', '<name>', 'inbox')}`);
      const outcome = await Promise.race([untilStopped().then((why) => ({ why })), running.failed.then((given) => ({ given }))]);
      io.err(`stopping (${'why' in outcome ? outcome.why : `${outcome.given.name} given up`})`);
      await running.stop();
      if ('given' in outcome) throw new ChildGaveUpError(outcome.given);
      return exitCode.ok;
    }, args.includes('--json')),
};

/** Marks a directory the demo laid out, so that the next demo may replace it. */
const demoMarker = '.elfe-demo';

/**
 * The demo's data directory: `./data/demo` unless given; one an earlier demo laid out is
 * replaced (each demo starts from an empty exchange, and runs do not pile up); any other
 * directory with content is refused. Ignored by git (a `.gitignore` of `*` inside).
 */
function demoDataDir(given: string | undefined): string {
  const dir = path.resolve(given ?? path.join('data', 'demo'));
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(path.join(dir, demoMarker))) {
      throw Object.assign(new Error(`${dir} holds files that no earlier demo wrote`), { code: 'data-dir-not-empty', hint: 'give the demo an empty or new directory with --data DIR (an earlier demo\'s directory is replaced)' });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, demoMarker), 'laid out by elfe demo; the next elfe demo with this directory replaces it\n');
  writeFileSync(path.join(dir, '.gitignore'), '# keys and personal data of a demo exchange: never committed\n*\n');
  return dir;
}

/** The demo's stderr: its own lines and the children's warnings and errors; their routine log only with --verbose. */
function demoLog(io: Io, verbose: boolean) {
  return (line: string) => {
    const child = /^\[[^\]]+\] (.*)$/.exec(line);
    if (!verbose && child) {
      const text = child[1]!;
      if (text.startsWith('{')) {
        try {
          if (((JSON.parse(text) as { level?: number }).level ?? 50) < 40) return;
        } catch {
          // not JSON: shown
        }
      } else if (/^(ready:|hub verifier key:|sequencer:)/.test(text)) return;
    }
    io.err(line);
  };
}

const demo: Command = {
  path: ['demo'],
  summary: 'run the exchange as separate processes, send N synthetic births through it, report deliveries, receipts and the audit',
  usage: 'elfe demo [--births N] [--data DIR] [--seed S] [--json] [--keep] [--verbose]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { births: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' }, verbose: { type: 'boolean' } });
      const births = Number(values.births ?? 100);
      if (!Number.isSafeInteger(births) || births < 1 || births > 1_000_000) throw new UsageError('--births must be a whole number from 1');
      const dataDir = demoDataDir(values.data);
      const log = demoLog(io, values.verbose === true);
      if (!values.json) io.err(`starting the exchange in ${dataDir}: a CA, the hub and every agency's connector as separate processes …`);
      const summary = await runDemo({
        births,
        dataDir,
        ...(values.seed ? { seed: Number(values.seed) } : {}),
        ...(io.isTTY || !values.json ? { onProgress: progressBar(io) } : {}),
        log,
        ...(values.keep ? { keep: true } : {}),
      });
      io.err('');
      if (values.json) io.out(JSON.stringify(summary));
      else for (const line of demoReport(summary, { replacedByNext: values.data === undefined })) io.out(line);
      return summary.audit.ok && summary.unanswered === 0 && summary.rejected === 0 && summary.deadLettered === 0 ? exitCode.ok : exitCode.failed;
    }, args.includes('--json')),
};

export const hubCommands: readonly Command[] = [hubStart, exchangeInit, start, demo];
