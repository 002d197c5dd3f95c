// The hub's own process (`elfe hub start`), the one-machine exchange (`elfe exchange init`,
// `elfe start`: every party its own child process and directory) and the demo.
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { createLogger } from '../../../connectors/kit/logger.ts';
import { startHub } from '../app/hub.ts';
import { dashboardLine, enrolAuditor, partyCommand, provisionExchange, type Exchange } from '../app/exchange.ts';
import { superviseProcesses, type ProcessSpec } from '../app/supervisor.ts';
import { loadConfig } from '../config/config.ts';
import { runDemo } from '../demo/demo.ts';
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
  usage: 'elfe hub start [--config FILE]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { config: { type: 'string' } });
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
    }),
};

const dataOption = { data: { type: 'string' }, 'nats-port': { type: 'string' }, 'metrics-port': { type: 'string' }, 'api-port': { type: 'string' } } as const;
const portOf = (text: string | undefined, fallback: number) => {
  const port = Number(text ?? fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('ports are whole numbers from 0 to 65535');
  return port;
};

/** `apiPort`: the API's port when `--api-port` is not given (none: no API unless asked for). */
const provision = (values: { data?: string | undefined; 'nats-port'?: string | undefined; 'metrics-port'?: string | undefined; 'api-port'?: string | undefined }, defaults: { apiPort?: number } = {}): Promise<Exchange> => {
  const apiPort = values['api-port'] !== undefined ? portOf(values['api-port'], 8443) : defaults.apiPort;
  return provisionExchange(path.resolve(values.data ?? 'data'), { natsPort: portOf(values['nats-port'], 4222), metricsPort: portOf(values['metrics-port'], 9464), ...(apiPort !== undefined ? { apiPort } : {}) });
};

const exchangeInit: Command = {
  path: ['exchange', 'init'],
  summary: 'lay out a whole exchange on this machine: the CA, and every party with its own key, certificate (from a CSR) and configuration',
  usage: 'elfe exchange init [--data DIR] [--nats-port 4222] [--metrics-port 9464] [--api-port PORT]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, dataOption);
      const exchange = await provision(values);
      const auditor = exchange.apiPort !== undefined ? await enrolAuditor(exchange) : undefined;
      io.out(JSON.stringify({ root: exchange.root, ca: exchange.caDir, hub: exchange.hubConfigFile, nats: exchange.natsUrl, ...(auditor ? { dashboard: `https://127.0.0.1:${exchange.apiPort}/`, auditor: { cert: auditor.certFile, key: auditor.keyFile } } : {}), parties: exchange.parties.map((p) => ({ name: p.name, role: p.role, dvdv: p.dvdv, config: p.configFile })) }, null, 2));
      return exitCode.ok;
    }),
};

/** The processes of a one-machine exchange: the hub, each agency's connector, each Standesamt's watch directory. */
export function exchangeProcesses(exchange: Exchange): ProcessSpec[] {
  return [
    { name: 'hub', args: ['hub', 'start', '--config', exchange.hubConfigFile] },
    ...exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse').map((p) => ({ name: p.name, args: partyCommand(p) })),
    ...exchange.parties.filter((p) => p.role === 'standesamt').map((p) => ({ name: p.name, args: ['standesamt', 'watch', path.join(p.dir, 'watch'), '--config', p.configFile] })),
  ];
}

const start: Command = {
  path: ['start'],
  summary: 'run the whole exchange on this machine, each party as its own process with its own directory (embedded defaults in ./data)',
  usage: 'elfe start [--data DIR] [--nats-port 4222] [--metrics-port 9464] [--api-port 8443]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, dataOption);
      const exchange = await provision(values, { apiPort: 8443 });
      for (const p of exchange.parties.filter((p) => p.role === 'standesamt')) mkdirSync(path.join(p.dir, 'watch'), { recursive: true });
      const auditor = await enrolAuditor(exchange);
      const supervisor = superviseProcesses(exchangeProcesses(exchange), { log: (name, line) => io.err(`[${name}] ${line}`), restart: true });
      io.out(`elfe exchange running from ${exchange.root}: NATS ${exchange.natsUrl}${exchange.metricsPort !== undefined ? `, metrics http://127.0.0.1:${exchange.metricsPort}/metrics` : ''}`);
      io.err(exchange.apiPort !== undefined ? dashboardLine(exchange.apiPort, auditor) : `dashboard: off (no "api" in ${exchange.hubConfigFile})`);
      io.out(`Standesämter drop births into ${path.join(exchange.root, 'parties', 'sta-<nummer>', 'watch')}; agencies' inboxes are ${path.join(exchange.root, 'parties', '<name>', 'inbox')}`);
      const why = await untilStopped();
      io.err(`stopping (${why})`);
      await supervisor.stop();
      return exitCode.ok;
    }),
};

const demo: Command = {
  path: ['demo'],
  summary: 'run the exchange as separate processes, send N synthetic births through it, report deliveries, receipts and the audit',
  usage: 'elfe demo [--births N] [--data DIR] [--seed S] [--json] [--keep]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { births: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' } });
      const births = Number(values.births ?? 100);
      if (!Number.isSafeInteger(births) || births < 1 || births > 1_000_000) throw new UsageError('--births must be a whole number from 1');
      mkdirSync(path.resolve('data'), { recursive: true });
      const dataDir = path.resolve(values.data ?? mkdtempSync(path.resolve('data', 'demo-')));
      const summary = await runDemo({
        births,
        dataDir,
        ...(values.seed ? { seed: Number(values.seed) } : {}),
        ...(io.isTTY || !values.json ? { onProgress: progressBar(io) } : {}),
        log: (line) => io.err(line),
        ...(values.keep ? { keep: true } : {}),
      });
      io.err('');
      if (values.json) io.out(JSON.stringify(summary));
      else {
        io.out(`${summary.births} births → ${summary.deliveries.elterngeldstelle} deliveries to Elterngeldstellen, ${summary.deliveries.familienkasse} to Familienkassen`);
        io.out(`acknowledged ${summary.acknowledged}, rejected ${summary.rejected}, dead-lettered ${summary.deadLettered}, without an answer ${summary.unanswered}`);
        io.out(`latency p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms; ${summary.birthsPerSecond.toFixed(1)} births/s`);
        io.out(`audit: ${summary.audit.ok ? 'intact' : `NOT intact at ${summary.audit.firstBadPosition}: ${summary.audit.reason}`} (${summary.audit.entries} entries, ${summary.audit.checkpoints} checkpoints)`);
        io.out(`data: ${summary.dataDir}`);
      }
      return summary.audit.ok && summary.unanswered === 0 && summary.rejected === 0 && summary.deadLettered === 0 ? exitCode.ok : exitCode.failed;
    }),
};

export const hubCommands: readonly Command[] = [hubStart, exchangeInit, start, demo];
