import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { certificateSigner, parseRegisterKey, RoleSchema } from '../../../contracts/index.ts';
import { loadConnectorSigner } from '../../../connectors/kit/keys.ts';
import { StandesamtConnector } from '../../../connectors/standesamt/src/standesamtConnector.ts';
import { scanDirectory, watchDirectory, type WatchResult } from '../../../connectors/standesamt/src/watchDirectory.ts';
import { startHub } from '../app/hub.ts';
import { ConfigError, keysDirOf, loadConfig, pkiDirOf } from '../config/config.ts';
import { partyFiles, readParty } from '../pki/parties.ts';
import { natsTlsOptions } from '../pki/natsConfig.ts';
import { runDemo } from '../demo/demo.ts';
import { createKeyPair } from '../keys/keyDirectory.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

function progressBar(io: Io) {
  let last = '';
  return (phase: string, done: number, total: number) => {
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const line = `${phase.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    if (line !== last) io.err(`\r${line}`.replace(/\n$/, ''));
    last = line;
  };
}

const start: Command = {
  path: ['start'],
  summary: 'run the hub and the agency connectors (embedded defaults: SQLite in ./data, a local nats-server)',
  usage: 'elfe start [--config FILE] [--data DIR] [--nats URL]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { config: { type: 'string' }, data: { type: 'string' }, nats: { type: 'string' } });
    let config;
    try {
      config = loadConfig(values.config, { ...(values.data ? { dataDir: values.data } : {}), ...(values.nats ? { nats: { url: values.nats } } : {}) });
      // The local nats-server listens on the standard port, so that `elfe submit` finds it.
      if (!config.nats.url && config.nats.port === undefined) config = { ...config, nats: { port: 4222 } };
      if (config.metrics.port === undefined) config = { ...config, metrics: { port: 9464 } };
    } catch (error) {
      if (error instanceof ConfigError) {
        io.out(JSON.stringify({ error: { code: error.code, message: error.message, issues: error.issues } }));
        return exitCode.invalidInput;
      }
      throw error;
    }
    const hub = await startHub(config, { log: (line) => io.err(line) });
    io.out(`elfe-hub running: data ${path.resolve(config.dataDir)}, NATS ${hub.natsUrl}, keys ${hub.keysDir}`);
    io.out(`hub verifier key: ${hub.log.verifierKey}`);
    if (hub.metricsPort !== undefined) io.out(`metrics: http://127.0.0.1:${hub.metricsPort}/metrics`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    io.err('stopping…');
    await hub.stop();
    return exitCode.ok;
  },
};

const demo: Command = {
  path: ['demo'],
  summary: 'start everything, send N synthetic births through it, check every delivery and the log',
  usage: 'elfe demo [--births N] [--data DIR] [--seed S] [--trust pki|keys] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { births: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, trust: { type: 'string' }, json: { type: 'boolean' } });
    if (values.trust !== undefined && values.trust !== 'pki' && values.trust !== 'keys') throw new UsageError('--trust is pki or keys');
    const births = Number(values.births ?? 100);
    if (!Number.isSafeInteger(births) || births < 1 || births > 1_000_000) throw new UsageError('--births must be a whole number from 1');
    mkdirSync(path.resolve('data'), { recursive: true });
    const dataDir = path.resolve(values.data ?? mkdtempSync(path.resolve('data', 'demo-')));
    const summary = await runDemo({
      births,
      dataDir,
      ...(values.seed ? { seed: Number(values.seed) } : {}),
      ...(values.trust ? { config: { trust: { mode: values.trust as 'pki' | 'keys' } } } : {}),
      ...(io.isTTY || !values.json ? { onProgress: progressBar(io) } : {}),
    });
    io.err('');
    const { problems, ...shown } = summary;
    if (values.json) io.out(JSON.stringify(shown));
    else {
      io.out(`${summary.births} births → ${summary.deliveries.elterngeldstelle} deliveries to Elterngeldstellen, ${summary.deliveries.familienkasse} to Familienkassen`);
      io.out(`acknowledged ${summary.acknowledged}, rejected ${summary.rejected}, dead-lettered ${summary.deadLettered}`);
      io.out(`latency p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms; ${summary.birthsPerSecond.toFixed(1)} births/s`);
      io.out(`audit: ${summary.audit.ok ? 'intact' : `NOT intact at ${summary.audit.firstBadPosition}: ${summary.audit.reason}`} (${summary.audit.entries} entries, ${summary.audit.checkpoints} checkpoints)`);
      io.out(`data: ${summary.dataDir}`);
    }
    for (const p of problems.slice(0, 20)) io.err(`problem: ${p}`);
    return problems.length === 0 ? exitCode.ok : exitCode.failed;
  },
};

const keysCreate: Command = {
  path: ['keys', 'create'],
  summary: 'create a key pair for a producer or agency in the local key directory',
  usage: 'elfe keys create --name NAME --dvdv ADDRESS --role ROLE [--keys DIR]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { name: { type: 'string' }, dvdv: { type: 'string' }, role: { type: 'string' }, keys: { type: 'string' } });
    const role = RoleSchema.safeParse(values.role);
    if (!values.name || !values.dvdv || !role.success) throw new UsageError('--name, --dvdv and --role (standesamt, meldebehoerde, elterngeldstelle, familienkasse, auditor) are required');
    const dir = path.resolve(values.keys ?? keysDirOf(loadConfig()));
    const signer = createKeyPair(dir, { name: values.name, dvdv: values.dvdv, role: role.data });
    io.out(JSON.stringify({ keysDir: dir, ...signer.identity }));
    return exitCode.ok;
  },
};

interface ConnectorFlags {
  readonly key?: string | undefined;
  readonly keys?: string | undefined;
  readonly nats?: string | undefined;
  readonly outbox?: string | undefined;
  readonly data?: string | undefined;
}

/** The Standesamt connector of the command line: certificate + TLS with the PKI (default), else a key pair. */
async function standesamtConnector(values: ConnectorFlags) {
  if (!values.key) throw new UsageError('--key NAME is required');
  const config = loadConfig(undefined, values.data ? { dataDir: values.data } : {});
  const pki = config.trust.mode === 'pki' ? pkiDirOf(config) : undefined;
  const party = pki ? partyFiles(pki, values.key) : undefined;
  if (party && !existsSync(party.certFile)) throw new UsageError(`no certificate for ${values.key} in ${pki}: elfe pki issue … --party ${values.key}`);
  const signer = party ? (({ privateKey, certificatePem }) => certificateSigner(privateKey, certificatePem))(readParty(party)) : loadConnectorSigner(path.resolve(values.keys ?? keysDirOf(config)), values.key);
  const nc = await connect({ servers: values.nats ?? config.nats.url ?? 'nats://127.0.0.1:4222', maxReconnectAttempts: -1, ...(pki && party ? { tls: natsTlsOptions(pki, party) } : {}) });
  const connector = new StandesamtConnector({ nc, signer, outboxFile: path.resolve(values.outbox ?? path.join(config.dataDir, 'standesamt-outbox.sqlite')) });
  return { connector, nc };
}

const connectorOptions = {
  key: { type: 'string' },
  keys: { type: 'string' },
  nats: { type: 'string' },
  outbox: { type: 'string' },
  data: { type: 'string' },
} as const;

const watch: Command = {
  path: ['standesamt', 'watch'],
  summary: 'submit every birth dropped into DIR (<nummer>_G_<jahr>_<eintrag>.081020.xml [+ .081021.xml])',
  usage: 'elfe standesamt watch DIR --key NAME [--once] [--data DIR] [--keys DIR] [--nats URL] [--outbox FILE]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...connectorOptions, once: { type: 'boolean' } });
    const [dir, ...extra] = positionals;
    if (!dir || extra.length > 0) throw new UsageError('expects exactly one DIR');
    const { connector, nc } = await standesamtConnector(values);
    const report = (r: WatchResult) => io.out(JSON.stringify(r));
    try {
      if (values.once) {
        const results = await scanDirectory(path.resolve(dir), connector);
        results.forEach(report);
        await connector.flush();
        return results.some((r) => r.outcome === 'failed') ? exitCode.failed : exitCode.ok;
      }
      const watcher = watchDirectory(path.resolve(dir), connector, { onResult: report });
      io.err(`watching ${path.resolve(dir)}`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await watcher.stop();
      return exitCode.ok;
    } finally {
      await connector.close();
      await nc.close();
    }
  },
};

const submit: Command = {
  path: ['submit'],
  summary: 'submit a birth (081020 [+ 081021]) as the Standesamt; kept in a durable outbox until the hub answers',
  usage: 'elfe submit 081020.xml [--with 081021.xml] --register 11007007/G/2026/334 --key NAME [--data DIR] [--keys DIR] [--nats URL] [--outbox FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { ...connectorOptions, with: { type: 'string' }, register: { type: 'string' }, json: { type: 'boolean' } });
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0 || !values.register || !values.key) throw new UsageError('expects FILE, --register and --key');
    const key = parseRegisterKey(values.register);
    if (!key.success) {
      io.out(JSON.stringify({ error: { code: 'invalid-register-key', message: key.error.message } }));
      return exitCode.invalidInput;
    }
    const { connector, nc } = await standesamtConnector(values);
    try {
      const messageId = crypto.randomUUID();
      const result = await connector.submitXml({
        notice081020: readFileSync(file, 'utf8'),
        ...(values.with ? { supplement081021: readFileSync(values.with, 'utf8') } : {}),
        registerKey: key.data,
        messageId,
        occurredAt: new Date().toISOString(),
      });
      if (!result.success) {
        io.out(JSON.stringify({ error: result.error.toJSON() }));
        return exitCode.invalidInput;
      }
      const status = connector.status(messageId);
      io.out(JSON.stringify({ messageId, ...status }));
      return status?.status === 'rejected' ? exitCode.failed : exitCode.ok;
    } finally {
      await connector.close();
      await nc.close();
    }
  },
};

export const hubCommands: readonly Command[] = [start, demo, keysCreate, submit, watch];
