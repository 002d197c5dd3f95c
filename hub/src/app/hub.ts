// The running hub, alone: log, NATS, ingress, scheduler (routing), relay, receipts and
// metrics. It holds its own keys only (the certificate key it signs deliveries with, the
// Ed25519 key of the log's checkpoints); agencies run their own connectors with their own keys.
// Without a NATS URL it runs a local nats-server, with its own TLS identity, as a managed child.
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { certificateSigner, CrlError, hubIdentity, hubIngressIdentity } from '../../../contracts/index.ts';
import { loadCredentials } from '../../../connectors/kit/credentials.ts';
import { clusterVersionWarning, connectWithRetry } from '../../../connectors/kit/natsConnection.ts';
import { createLogger, eventLog, lineLog, type Logger } from '../../../connectors/kit/logger.ts';
import { certificateTrust, type Trust } from '../../../connectors/kit/trust.ts';
import type { HubConfig } from '../config/config.ts';
import { natsSecurityConfig } from '../pki/natsConfig.ts';
import { routingProblems } from '../routing/routingCheck.ts';
import { certificateStatuses, type CertificateStatus } from '../pki/pki.ts';
import { recipientDirectory } from '../trust/recipients.ts';
import { connectionLimiter, findNatsServer, freePort, portFree, startLocalNatsServer, type ConnectionLimiter, type LocalNatsServer } from '../infra/nats/natsServer.ts';
import { jetStreamWithStreams } from '../infra/nats/streams.ts';
import { eventLoopDelayMetrics, startMetricsServer, type Metric } from './metrics.ts';
import { componentMetrics, createLifecycle, failAtFromEnv, startSteps, StartStepError, type Lifecycle } from './lifecycle.ts';
import type { LoopOptions, StopFailure } from '../../../connectors/kit/lifecycle.ts';
import { acquireDataDirLock, type DataDirLock } from './dataDirLock.ts';
import { startIngress, type Ingress } from '../ingress/ingress.ts';
import { trackingCodeOf, trackingKey } from '../tracking/trackingCode.ts';
import { openHubLog } from '../log/openHubLog.ts';
import { logStorage } from '../log/storageHealth.ts';
import { freeBytes } from '../../../connectors/kit/storageFull.ts';
import { openCaseLog, type CaseLog } from '../log/caseLog.ts';
import { startRetention, type Retention } from '../log/retention.ts';
import { acquirePostgresLease, type Lease } from '../log/postgres/postgresLease.ts';
import type { TransparentLog } from '../log/transparentLog.ts';
import { startReceiptProcessor, type ReceiptProcessor } from '../receipts/receipts.ts';
import { startRelay, type Relay } from '../relay/relay.ts';
import { startScheduler, type Scheduler } from '../scheduler/scheduler.ts';
import { apiIdentityDir, startReadSideServices, type ReadSideServices } from './readSideServices.ts';

export interface RunningHub {
  readonly config: HubConfig;
  /** The log as stored (personal data of birth cases as ciphertext). */
  readonly log: TransparentLog;
  /** The log read and written with the case keys: what the hub's components use. */
  readonly caseLog: CaseLog;
  readonly natsUrl: string;
  readonly nats?: LocalNatsServer;
  readonly trust: Trust;
  readonly ingress: Ingress;
  readonly scheduler: Scheduler;
  readonly relay: Relay;
  readonly receipts: ReceiptProcessor;
  /** Port of the metrics endpoint, when enabled. */
  readonly metricsPort?: number;
  /** Projections, escalation, the HTTP API and dashboard. */
  readonly readSide: ReadSideServices;
  /** With a shared (PostgreSQL) store: the sequencer lease this hub holds; `lost` settles when it is gone. */
  readonly lease?: Pick<Lease, 'epoch' | 'waitedMs' | 'lost'>;
  /** Its running parts: which failed, and whether each works again (the health endpoint's answer). */
  readonly lifecycle: Lifecycle;
  /** The names of its start steps, in the order they ran (each may be made to fail with `failAt`). */
  readonly startSteps: readonly string[];
  /** Stops every start step in reverse, each even when another fails; rejects with a `HubStopError` naming those that failed. */
  stop(): Promise<void>;
}

export class HubStartError extends Error {
  override readonly name = 'HubStartError';
  constructor(
    readonly code: 'no-certificate' | 'not-the-hub' | 'data-dir-locked' | 'crl-refused' | 'port-in-use' | 'no-nats-server' | 'start-failed',
    message: string,
    /** What the operator does about it. */
    readonly hint?: string,
    options?: ErrorOptions,
    /** The start step that failed, when one did. */
    readonly step?: string,
  ) {
    super(message, options);
  }
}

const signHint = (args: string, dir: string) => `elfe pki request ${args} --out ${dir}, then elfe pki sign on the CA (or elfe exchange init for a one-machine exchange)`;

/** A certificate and key in `dir`, or a named start error saying how to make them. */
function requireIdentity(dir: string, what: string, requestArgs: string): { certFile: string; keyFile: string } {
  try {
    return loadCredentials(dir);
  } catch (error) {
    throw new HubStartError('no-certificate', `no usable ${what} certificate in ${dir} (${(error as Error).message})`, signHint(requestArgs, dir));
  }
}

/** Refuses a port another process listens on, before anything of the hub is started. */
export async function requireFreePort(port: number | undefined, what: string, host = '127.0.0.1'): Promise<void> {
  if (port === undefined || port === 0) return;
  if (await portFree(port, host)) return;
  throw new HubStartError('port-in-use', `port ${port} is in use by another process (${what})`, `stop the other process (ss -ltnp 'sport = :${port}' shows it), or choose another port in the configuration`);
}

/**
 * Everything the hub needs before it starts anything: its own certificate, its ingress
 * responder's, the nats-server's TLS identity (without nats.url), the API's (with api), a
 * nats-server binary, and its ports free. Each missing piece is a named start error.
 */
export async function checkHubPrerequisites(config: HubConfig, trustOptions: Parameters<typeof hubTrust>[1] = {}): Promise<{ trust: Trust; ingress: { caFile: string; certFile: string; keyFile: string } }> {
  const trust = hubTrust(config, trustOptions);
  const ingress = ingressTls(config, trust);
  if (!config.nats.url || (Array.isArray(config.nats.url) && config.nats.url.length === 0)) {
    requireIdentity(config.nats.serverDir, "nats-server's TLS", `--tls-server --name nats-server --server-name 127.0.0.1 --server-name localhost`);
    if (!findNatsServer()) throw new HubStartError('no-nats-server', 'nats-server >= 2.10 not found', 'run scripts/setup.sh, or set ELFE_NATS_SERVER to its path');
    await requireFreePort(config.nats.port, 'the NATS port, nats.port');
  }
  if (config.api) {
    requireIdentity(apiIdentityDir(config.dataDir), "API's TLS server", '--tls-server --name elfe-hub-api --server-name 127.0.0.1');
    await requireFreePort(config.api.port, 'the API port, api.port', config.api.host ?? '127.0.0.1');
  }
  await requireFreePort(config.metrics.port, 'the metrics port, metrics.port');
  return { trust, ingress };
}

/** The hub's trust: its certificate in the data directory, which must name *the* hub. */
export function hubTrust(config: HubConfig, options: { logger?: Logger; onCrlAlert?: (code: string) => void } = {}): Trust {
  let trust: Trust;
  try {
    trust = certificateTrust({
      dir: config.dataDir,
      caCertFile: config.trust.caCertFile,
      crlFile: config.trust.crlFile,
      issuedDir: config.trust.issuedDir,
      crlGraceMs: config.trust.crlGraceHours * 3600_000,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.onCrlAlert ? { onCrlAlert: options.onCrlAlert } : {}),
    });
  } catch (error) {
    // Fail closed: no good CRL (older than one seen, stale, not the CA's) means no start.
    if (error instanceof CrlError) throw new HubStartError('crl-refused', `the CRL ${config.trust.crlFile} is not taken (${error.code}): ${error.message}`, 'publish a current CRL from the CA (elfe pki crl)');
    throw new HubStartError('no-certificate', `no usable hub certificate in ${config.dataDir} (${(error as Error).message})`, signHint(`--role hub --dvdv ${hubIdentity.dvdv}`, config.dataDir));
  }
  if (trust.identity.role !== 'hub' || trust.identity.dvdv !== hubIdentity.dvdv) {
    throw new HubStartError('not-the-hub', `the certificate in ${config.dataDir} is for ${trust.identity.role} ${trust.identity.dvdv}, not the hub ${hubIdentity.dvdv}`, signHint(`--role hub --dvdv ${hubIdentity.dvdv}`, config.dataDir));
  }
  return trust;
}

export interface StartHubOptions {
  readonly logger?: Logger;
  /**
   * Test seam: the start step of this name fails (default: `ELFE_FAIL_AT_START_STEP`), so that
   * tests show that a failed start leaves nothing running. Never set in operation.
   */
  readonly failAt?: string;
}

export async function startHub(config: HubConfig, options: StartHubOptions = {}): Promise<RunningHub> {
  // JSON lines on stderr (pino), one per event; never personal data.
  const logger = options.logger ?? createLogger('hub');
  const say = eventLog(logger);
  const sayLine = lineLog(logger, 'hub.note');
  const dataDir = path.resolve(config.dataDir);
  // Every running part reports its failures here: logged at error level, counted, shown unhealthy.
  const lifecycle = createLifecycle({ logger });
  // Refused CRLs and a CRL in force running out: counted for the alert metric, logged at error level.
  const crlAlerts = new Map<string, number>();
  // Every identity, the nats-server binary and the ports are checked before anything starts.
  const { trust, ingress: ingressCredentials } = await checkHubPrerequisites(config, { logger, onCrlAlert: (code) => crlAlerts.set(code, (crlAlerts.get(code) ?? 0) + 1) });
  // What the routing tables leave open (errors already stopped the configuration): said once, at start.
  for (const p of routingProblems(config)) if (p.level === 'warning') logger.warn({ event: 'routing.warning', path: p.path }, p.message);
  // An ordered list of named steps: when one fails, those before it are stopped in reverse and
  // the start fails naming it; stop() stops them all in reverse, each even when another fails.
  const steps = startSteps({
    failAt: options.failAt ?? failAtFromEnv(),
    onStopFailed: (f) => logger.error({ event: 'hub.stop-step-failed', step: f.step, error: f.error.message }, `stopping ${f.step} failed`),
  });
  const loop = (name: string, fn: (signal: AbortSignal) => Promise<void>, loopOptions?: LoopOptions) => {
    const running = lifecycle.runLoop(name, fn, loopOptions);
    return { value: running, stop: () => running.stop() };
  };
  try {
    // One hub per data directory; a lock left by a killed hub is taken over.
    await steps.step('lock', () => {
      const lock: DataDirLock = acquireDataDirLock(dataDir, 'hub');
      if (lock.tookOverFrom !== undefined) say('hub.data-dir-taken-over', { fromPid: lock.tookOverFrom });
      return { value: lock, stop: () => lock.release() };
    });
    // The watcher of the CA's published files (certificates, CRL, register): stopped with the hub.
    await steps.step('ca-files', () => ({ value: trust.caFiles, stop: () => trust.caFiles.stop() }));
    // A shared store: stand by until this hub holds the sequencer lease; its appends are fenced on it.
    const store = config.log.store;
    const lease = await steps.step('lease', async () => {
      if (store.kind !== 'postgres') return { value: undefined };
      const taken = await acquirePostgresLease({ url: store.url, schema: store.schema, timeoutMs: store.leaseTimeoutMs, pollMs: store.leasePollMs, holder: `hub ${dataDir} pid ${process.pid}`, log: sayLine });
      say('hub.lease-taken', { epoch: taken.epoch, waitedMs: taken.waitedMs });
      return { value: taken as Lease | undefined, stop: () => taken.release() };
    });
    // A full data directory: writes are refused (submissions answered `unavailable`) and resume by themselves once space is freed.
    await steps.step('storage-report', () => {
      logStorage.reportTo({
        full: (error, where) =>
          logger.error(
            { event: 'log.storage-full', where, dataDir, freeBytes: freeBytes(dataDir), error: (error as Error).message },
            `the hub's data directory ${dataDir} is full: nothing more is recorded and submissions are answered unavailable (their senders keep them and send them again) until space is freed; the hub resumes by itself`,
          ),
        recovered: (refused, fullForMs) => logger.warn({ event: 'log.storage-recovered', dataDir, refused, fullForMs }, `the hub records again: its data directory has space (${refused} writes were refused in ${Math.round(fullForMs / 1000)} s)`),
      });
      return { value: undefined, stop: () => logStorage.reportTo(undefined) };
    });
    const { log, caseLog } = await steps.step('log', async () => {
      const opened = await openHubLog({ dataDir, checkpoint: config.log.checkpoint, origin: config.log.origin, witnesses: config.witnesses, log: lineLog(logger, 'log.witness'), store, component: lifecycle.component('checkpoints'), ...(lease ? { fence: () => lease.epoch } : {}) });
      // Personal data of each birth case under its own key, in `keys/cases.sqlite` (outside the log).
      const cases = openCaseLog(opened, dataDir, config.keys.caseKeyFile ? { keyFile: config.keys.caseKeyFile } : {});
      try {
        await cases.recover();
      } catch (error) {
        await cases.close();
        throw error;
      }
      return { value: { log: opened, caseLog: cases }, stop: () => cases.close() };
    });
    for (const c of certificateStatusOf(trust)) {
      if (c.expiresSoon && !c.revoked) say('pki.certificate-expires-soon', { serial: c.serial, subject: c.subject, daysLeft: c.daysLeft });
    }

    let connectionLimit: ConnectionLimiter | undefined;
    const configuredUrl = Array.isArray(config.nats.url) ? config.nats.url.join(',') : config.nats.url;
    const local = configuredUrl ? undefined : await steps.step('nats-server', async () => {
      const serverIdentity = { certFile: path.join(config.nats.serverDir, 'cert.pem'), keyFile: path.join(config.nats.serverDir, 'key.pem') };
      const anchors = { caCertFile: config.trust.caCertFile, crlFile: config.trust.crlFile, issuedDir: config.trust.issuedDir };
      // The server's monitoring endpoint, on loopback only: the hub counts each certificate's connections there.
      const monitorPort = await freePort();
      const blocked = new Set<string>();
      // The users follow the hub's checked CRL (older and stale lists refused, the last good one kept);
      // a certificate over its connection limit has no user for a while.
      const securityConfig = () => `http: "127.0.0.1:${monitorPort}"\n${natsSecurityConfig(anchors, serverIdentity, new Date(), trust.revoked, blocked, trust.caFiles.current().certificates)}`;
      const natsComponent = lifecycle.component('nats-server');
      const server = await startLocalNatsServer({
        storeDir: path.join(dataDir, 'nats'),
        ...(config.nats.port ? { port: config.nats.port } : {}),
        extraConfig: securityConfig(),
        onExit: (how) => natsComponent.failed(new Error(`nats-server exited (${how}); starting it again`), { how }),
        onRestarted: () => natsComponent.succeeded(),
      });
      say('nats.server-started', { url: server.url, pid: server.pid() });
      return { value: { server, securityConfig, monitorPort, blocked }, stop: () => server.stop() };
    });
    const nats = local?.server;
    if (local) {
      // Issued and revoked certificates (and one coming into or out of validity) reach the
      // nats-server's users without a restart: told by the watcher of the CA's files, applied by
      // a loop that tries again while regenerating fails.
      let security = local.securityConfig();
      const regenerate = (why: string) => {
        const next = local.securityConfig();
        if (next === security) return;
        security = next;
        say('nats.users-reloaded', { why }, `${why}: reloading the nats-server users`);
        void local.server.reconfigure(next);
      };
      let changed = false;
      await steps.step('ca-files-subscription', () => ({ value: undefined, stop: trust.caFiles.subscribe(() => (changed = true)) }));
      await steps.step('nats-users', () =>
        loop(
          'nats-users',
          async () => {
            if (!changed) return;
            regenerate('certificates changed');
            changed = false;
          },
          { everyMs: 250 },
        ),
      );
      const limiter: ConnectionLimiter = connectionLimiter({
        monitorUrl: `http://127.0.0.1:${local.monitorPort}`,
        maxPerCertificate: config.nats.maxConnectionsPerCertificate,
        blockMs: config.nats.connectionLimitBlockSeconds * 1000,
        exempt: (user) => /@hub\./.test(user), // the hub's own users (hub:elfe-hub, hub:ingress)
        onChange: () => {
          local.blocked.clear();
          for (const u of limiter.blocked) local.blocked.add(u);
          try {
            regenerate('connection limit');
          } catch (error) {
            lifecycle.component('nats-users').failed(error);
          }
        },
        onBlocked: (user, connections) =>
          logger.error({ event: 'nats.connection-limit', user, connections, limit: config.nats.maxConnectionsPerCertificate, blockSeconds: config.nats.connectionLimitBlockSeconds }, 'a certificate holds more NATS connections than allowed: all of them are closed and it is refused for a while'),
        onReleased: (user) => say('nats.connection-limit-released', { user }),
      });
      // A round that cannot count the connections fails loudly (component `nats-connection-limit`).
      await steps.step('nats-connection-limit', () => loop('nats-connection-limit', () => limiter.check(), { everyMs: 1000 }));
      connectionLimit = limiter;
    }
    const natsUrl = nats?.url ?? configuredUrl!;
    const nc: NatsConnection = await steps.step('nats-connection', async () => {
      const c = await connectWithRetry({ servers: natsUrl, name: 'elfe-hub', tls: trust.tls }, sayLine);
      const tooOld = clusterVersionWarning(c.info);
      if (tooOld) logger.warn({ event: 'nats.version-too-old-for-cluster', version: c.info?.version }, tooOld);
      return { value: c, stop: () => c.close() };
    });
    // Submissions are taken and answered on a connection that may publish nothing but responses.
    const ingressNc: NatsConnection = await steps.step('ingress-connection', async () => {
      const c = await connectWithRetry({ servers: natsUrl, name: 'elfe-hub ingress', tls: ingressCredentials }, sayLine);
      return { value: c, stop: () => c.close() };
    });
    const jsm = await steps.step('streams', async () => ({ value: await jetStreamWithStreams(nc, { replicas: config.nats.replicas, log: sayLine }) }));
    const js = jetstream(nc);

    const readSide = await steps.step('read-side', async () => {
      const started = await startReadSideServices({
        config,
        log,
        events: caseLog,
        jsm,
        trust,
        say: sayLine,
        logger,
        lifecycle,
        certificates: () => certificateStatusOf(trust),
        erasure: { caseStream: (key) => caseLog.caseStream(key), erase: (stream, reason) => caseLog.erase(stream, reason) },
      });
      return { value: started, stop: () => started.stop() };
    });
    const recipients = recipientDirectory({ caFiles: trust.caFiles });
    const scheduler = await steps.step('scheduler', () => {
      const started = startScheduler({
        log: caseLog,
        table: config.routing,
        positionFile: path.join(dataDir, 'scheduler.position'),
        onUnroutable: (stream, reason) => say('routing.unroutable', { stream, reason }),
        encryptFor: (dvdv: string) => recipients(dvdv),
        onUndeliverable: (id: string, dvdv: string, reason: string, stream: string) => {
          readSide.heldBack(stream, dvdv, reason);
          say('delivery.held-back', { deliveryId: id, recipient: dvdv, reason });
        },
        // Asked about again every few seconds: a certificate the CA issues meanwhile releases it.
        onReleased: (id, dvdv, stream, outcome) => {
          readSide.heldBack(stream, dvdv, undefined);
          lifecycle.component('scheduler').succeeded();
          say('delivery.released', { deliveryId: id, recipient: dvdv, outcome });
        },
        // Reported as the scheduler's failure: healthy again with its next decision or release.
        onRetryFailed: (error) => lifecycle.component('scheduler').failed(error, { at: 'held-back-release' }),
        component: lifecycle.component('scheduler'),
      });
      return { value: started, stop: () => started.stop() };
    });
    const relay = await steps.step('relay', async () => {
      const started = await startRelay({
        js,
        jsm,
        log: caseLog,
        signer: trust.signer,
        positionFile: path.join(dataDir, 'relay.position'),
        // An erased case's deliveries leave the stream too: ids and counts, nothing personal.
        onPurged: (r) => say('relay.erased-deliveries-purged', { caseId: r.caseId, recipient: r.recipient, deliveryIds: r.deliveryIds, deleted: r.deleted, gone: r.gone, ...(r.skipped ? { skipped: r.skipped } : {}) }),
        onPurgeFailed: (f) =>
          logger.error({ event: 'relay.erased-deliveries-purge-failed', caseId: f.caseId, deliveryIds: f.deliveryIds, error: f.error.message }, 'the deliveries of an erased case could not be deleted from the stream (they expire with its max_age)'),
        component: lifecycle.component('relay'),
        lifecycle,
      });
      return { value: started, stop: () => started.stop() };
    });
    const receipts = await steps.step('receipts', async () => {
      const started = await startReceiptProcessor({ nc, js, jsm, log: caseLog, verifier: trust.verifier, answerSigner: trust.signer, component: lifecycle.component('receipts'), lifecycle });
      return { value: started, stop: () => started.stop() };
    });
    await steps.step('retention', () => {
      const retention: Retention = startRetention(caseLog, {
        afterLastHandoffDays: config.retention.afterLastHandoffDays,
        intervalMs: config.retention.checkEveryMs,
        onErased: (stream) => say('retention.erased', { stream }),
        lifecycle,
      });
      return { value: retention, stop: () => retention.stop() };
    });
    // Submissions are taken last (and refused first on stop): everything that handles them runs.
    const tracking = trackingKey(dataDir);
    const ingress = await steps.step('ingress', () => {
      const started = startIngress({
        nc: ingressNc,
        log: caseLog,
        verifier: trust.verifier,
        maxBytes: config.ingress.maxBytes,
        clockSkewMs: config.ingress.clockSkewSeconds * 1000,
        routing: config.routing,
        meldebehoerden: config.meldebehoerden,
        caseStream: (key) => caseLog.caseStream(key),
        // Answers are signed by the ingress identity: its own key, nothing else of the hub's.
        replySigner: ingressSigner(ingressCredentials),
        trackingCode: (stream, generation) => trackingCodeOf(tracking, stream, generation),
        component: lifecycle.component('ingress'),
      });
      return { value: started, stop: () => started.stop() };
    });
    await steps.step('api', async () => {
      await readSide.serve({ relayPosition: () => relay.stats.position, health: () => lifecycle.health() });
      return { value: undefined, stop: () => readSide.stopApi() };
    });

    let loopDelay: ReturnType<typeof eventLoopDelayMetrics> | undefined;
    const hubMetrics = async (): Promise<Metric[]> => [
      ...(loopDelay?.scrape() ?? []),
      { name: 'elfe_log_entries', help: 'Entries in the log', type: 'gauge', samples: [{ value: await log.size() }] },
      { name: 'elfe_log_checkpoint_tree_size', help: 'Tree size of the latest signed checkpoint', type: 'gauge', samples: [{ value: log.latestCheckpoint()?.treeSize ?? 0 }] },
      { name: 'elfe_scheduler_position', help: 'Log position up to which routing decisions are made', type: 'gauge', samples: [{ value: scheduler.stats.position }] },
      { name: 'elfe_submissions_total', help: 'Submissions by outcome', type: 'counter', samples: Object.entries(ingress.stats).map(([outcome, value]) => ({ labels: { outcome }, value })) },
      { name: 'elfe_deliveries_total', help: 'Delivery decisions by outcome', type: 'counter', samples: Object.entries(scheduler.stats).filter(([k]) => k !== 'position' && k !== 'heldBack').map(([outcome, value]) => ({ labels: { outcome }, value })) },
      { name: 'elfe_deliveries_held_back', help: 'Deliveries held back now (the recipient has no usable certificate)', type: 'gauge', samples: [{ value: scheduler.stats.heldBack }] },
      { name: 'elfe_storage_full', help: '1 while the data directory is full (writes refused, submissions answered unavailable)', type: 'gauge', samples: [{ value: logStorage.full ? 1 : 0 }] },
      { name: 'elfe_storage_full_total', help: 'Writes to the log, its tree or the case keys refused because the data directory was full', type: 'counter', samples: [{ value: logStorage.refused }] },
      { name: 'elfe_receipts_total', help: 'Receipts and dead letters by outcome', type: 'counter', samples: Object.entries(receipts.stats).map(([outcome, value]) => ({ labels: { outcome }, value })) },
      ...readSide.metrics(),
      ...crlMetrics(trust, crlAlerts),
      ...componentMetrics(lifecycle),
      ...(connectionLimit
        ? [
            { name: 'elfe_nats_connection_limit_blocks_total', help: 'Certificates cut off for holding more NATS connections than allowed', type: 'counter' as const, samples: [{ value: connectionLimit.stats.blocks }] },
            { name: 'elfe_nats_connection_limit_blocked', help: 'Certificates without a NATS user now for holding too many connections', type: 'gauge' as const, samples: [{ value: connectionLimit.blocked.size }] },
          ]
        : []),
      { name: 'elfe_certificate_expiry_days', help: 'Days until each issued, unrevoked certificate expires', type: 'gauge', samples: certificateStatusOf(trust).filter((c) => !c.revoked).map((c) => ({ labels: { serial: c.serial, subject: c.subject }, value: c.daysLeft })) },
    ];
    const metrics = await steps.step('metrics', async () => {
      if (config.metrics.port === undefined) return { value: undefined };
      const server = await startMetricsServer(config.metrics.port, hubMetrics);
      const delay = (loopDelay = eventLoopDelayMetrics());
      return {
        value: server,
        stop: async () => {
          delay.stop();
          await server.stop();
        },
      };
    });

    return {
      config,
      log,
      caseLog,
      natsUrl,
      ...(nats ? { nats } : {}),
      trust,
      ingress,
      scheduler,
      relay,
      receipts,
      ...(metrics ? { metricsPort: metrics.port } : {}),
      readSide,
      lifecycle,
      startSteps: [...steps.names],
      ...(lease ? { lease } : {}),
      async stop() {
        const failures = await steps.stop();
        if (failures.length > 0) throw new HubStopError(failures);
      },
    };
  } catch (error) {
    await steps.stop();
    const step = error instanceof StartStepError ? error.step : undefined;
    const cause = error instanceof StartStepError ? error.cause : error;
    const code = (cause as { code?: unknown }).code;
    // Typed errors keep their code; a system error (EADDRNOTAVAIL …) or an untyped one becomes start-failed.
    if (cause instanceof HubStartError) throw new HubStartError(cause.code, cause.message, cause.hint, { cause: cause.cause }, step);
    if (typeof code === 'string' && !/^E[A-Z]+$/.test(code) && code !== 'start-step-failed') throw Object.assign(cause as Error, { step });
    throw new HubStartError('start-failed', `the hub did not start${step ? ` (step ${step})` : ''}: ${(cause as Error).message.split('\n')[0]}`, 'correct what it names (the configuration, a port, an address); nothing of this start is left running', { cause }, step);
  }
}

/** Stopping the hub: every step was stopped; these failed (each is also logged). */
export class HubStopError extends Error {
  override readonly name = 'HubStopError';
  readonly code = 'stop-failed';
  constructor(readonly failures: readonly StopFailure[]) {
    super(`stopping the hub: ${failures.map((f) => `${f.step} (${f.error.message.split('\n')[0]})`).join(', ')} failed; everything else was stopped`);
  }
}

/** The CRL's state for operators: an alert while the newest CRL is refused or none is good, refusals by reason, the list in force. */
function crlMetrics(trust: Trust, alerts: ReadonlyMap<string, number>): Metric[] {
  const unusable = trust.revoked.unusable;
  const refused = trust.revoked.lastError;
  const current = trust.revoked.current;
  return [
    {
      name: 'elfe_crl_alert',
      help: '1 while the newest CRL file is refused (older than one seen, stale, not the CA\'s) or no good CRL is in force (then no certificate is trusted)',
      type: 'gauge',
      samples: [{ labels: { reason: unusable?.code ?? refused?.code ?? 'none' }, value: unusable || refused ? 1 : 0 }],
    },
    { name: 'elfe_crl_refused_total', help: 'CRLs refused, and lists in force that ran out of grace, by reason', type: 'counter', samples: [...alerts].map(([reason, value]) => ({ labels: { reason }, value })) },
    { name: 'elfe_crl_number', help: 'CRL number of the list in force', type: 'gauge', samples: [{ value: current.crlNumber ?? 0 }] },
    { name: 'elfe_crl_next_update_seconds', help: 'Seconds until the nextUpdate of the list in force (negative: past it)', type: 'gauge', samples: [{ value: Math.round((current.nextUpdate.getTime() - Date.now()) / 1000) }] },
  ];
}

/** TLS files of the hub's ingress responder identity (`<dataDir>/ingress/`). */
function ingressTls(config: HubConfig, trust: Trust) {
  const dir = path.join(config.dataDir, 'ingress');
  const credentials = requireIdentity(dir, 'ingress', `--role hub --dvdv ${hubIngressIdentity.dvdv}`);
  return { caFile: trust.tls.caFile, certFile: credentials.certFile, keyFile: credentials.keyFile };
}

/** The ingress identity as a signer of the hub's answers. */
function ingressSigner(credentials: { certFile: string }) {
  const own = loadCredentials(path.dirname(credentials.certFile));
  return certificateSigner(own.privateKey, own.certificatePem);
}

/** Certificate expiry as the CA published it, from the hub's watcher of the CA's files. */
function certificateStatusOf(trust: Trust): CertificateStatus[] {
  const state = trust.caFiles.current();
  return certificateStatuses(state.certificates, state.revoked);
}
