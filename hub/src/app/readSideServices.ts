// The read side in the composition root: projections with escalation, the periodic dead-letter
// reconciliation, the HTTP API with the dashboard, and their metrics. Kept out of hub.ts so
// that the hub's start-up changes by a few lines only.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import { createLogger, type Logger } from '../../../connectors/kit/logger.ts';
import type { Trust } from '../../../connectors/kit/trust.ts';
import { startApiServer, type ApiServer } from '../api/server.ts';
import type { ErasureOptions } from '../api/erasure.ts';
import type { HubConfig } from '../config/config.ts';
import { logFiles } from '../log/openHubLog.ts';
import type { TransparentLog } from '../log/transparentLog.ts';
import type { EventStore } from '../log/eventStore.ts';
import { startReadSide, type ReadSide } from '../readside/readSide.ts';
import { ensureDeadLetterStream, reconcileDeadLetters } from '../readside/reconcile.ts';
import { CosignatureStore } from '../witness/witnessing.ts';
import { trackingKey } from '../tracking/trackingCode.ts';
import type { Metric } from './metrics.ts';
import type { ComponentHealth, Lifecycle } from '../../../connectors/kit/lifecycle.ts';

export interface ReadSideServices extends ReadSide {
  readonly api: ApiServer | undefined;
  readonly logger: Logger;
  readonly reconciled: { deadLetters: number; failures: number };
  /** Starts the API (once the relay's position is known). */
  serve(options: { relayPosition: () => number; health?: () => readonly ComponentHealth[] }): Promise<void>;
  reconcileNow(): Promise<number>;
  metrics(): Metric[];
  stopApi(): Promise<void>;
}

type Certificates = () => readonly { serial: string; subject: string; daysLeft: number; expiresSoon: boolean; revoked: boolean }[];

/** The API's TLS server identity: `<dataDir>/api/` (a TLS-server certificate of the CA). */
export const apiIdentityDir = (dataDir: string): string => path.join(dataDir, 'api');

export async function startReadSideServices(options: {
  config: HubConfig;
  log: TransparentLog;
  /** The log's entries as the hub reads them (case data opened while its key exists); default `log`. */
  events?: EventStore;
  jsm: JetStreamManager;
  trust: Trust;
  say: (line: string) => void;
  certificates: Certificates;
  logger?: Logger;
  /** Erasure on the running hub through the API (the case log's). */
  erasure?: ErasureOptions;
  /** Where the projections and the reconciliation report their failures. */
  lifecycle?: Lifecycle;
}): Promise<ReadSideServices> {
  const { config, log, jsm, trust } = options;
  const events = options.events ?? log;
  // JSON lines on stderr; never personal data (no bodies, no IdNrs are logged).
  const logger = options.logger ?? createLogger('hub');
  const readSide = await startReadSide({
    log: events,
    dir: path.join(config.dataDir, 'readside'),
    escalation: config.escalation,
    say: (event, fields) => logger.info({ event, ...fields }, event),
    trackingKey: trackingKey(config.dataDir),
    ...(options.lifecycle ? { component: options.lifecycle.component('read-side'), lifecycle: options.lifecycle } : {}),
  });
  const reconciled = { deadLetters: 0, failures: 0 };
  // From the first start on, the advisories of given-up deliveries are kept in a stream, also while the hub is down.
  await ensureDeadLetterStream(jsm).catch((error: unknown) => logger.error({ event: 'readside.dead-letter-stream-failed', error: (error as Error).message }, 'the stream of dead-letter advisories could not be created; retried at each reconciliation'));
  const reconcileNow = async () => {
    try {
      options.lifecycle?.component('reconcile').checkFault();
      const n = await reconcileDeadLetters({ jsm, log: events, store: readSide.store, limits: config.delivery });
      reconciled.deadLetters += n;
      if (n > 0) logger.warn({ event: 'readside.dead-letters-reconciled', count: n }, 'dead letters recorded from the kept max-deliveries advisories');
      options.lifecycle?.component('reconcile').succeeded();
      return n;
    } catch (error) {
      reconciled.failures++;
      if (options.lifecycle) options.lifecycle.component('reconcile').failed(error);
      else logger.error({ event: 'readside.reconcile-failed', error: (error as Error).message }, 'reconciliation failed');
      return 0;
    }
  };
  const reconcileTimer = setInterval(() => void reconcileNow(), config.escalation.reconcileEveryMs);
  reconcileTimer.unref();
  let api: ApiServer | undefined;
  const cosignatures = existsSync(logFiles(config.dataDir).cosignatures) ? new CosignatureStore(logFiles(config.dataDir).cosignatures) : undefined;
  const roleOf = (dvdv: string) => (config.routing.elterngeldstellen.some((e) => e.dvdv === dvdv) ? 'elterngeldstelle' : 'familienkasse');
  const services: ReadSideServices = {
    ...readSide,
    store: readSide.store,
    stats: readSide.stats,
    logger,
    reconciled,
    get api() {
      return api;
    },
    heldBack: (caseId, dvdv, reason) => readSide.heldBack(caseId, roleOf(dvdv), reason),
    async serve({ relayPosition, health }) {
      void reconcileNow();
      if (!config.api) return;
      const dir = apiIdentityDir(config.dataDir);
      if (!existsSync(path.join(dir, 'cert.pem'))) throw new Error(`the API needs a TLS server identity in ${dir}: elfe pki request --tls-server --name elfe-hub-api --server-name 127.0.0.1 --out ${dir}, then elfe pki sign on the CA`);
      api = await startApiServer({
        port: config.api.port,
        host: config.api.host,
        maxConnectionsPerCertificate: config.api.maxConnectionsPerCertificate,
        trackingLookupsPerMinute: config.api.trackingLookupsPerMinute,
        tls: { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'), ca: trust.caCertificatePem },
        revoked: trust.revoked,
        log,
        events,
        readSide,
        relayPosition,
        ...(health ? { health } : {}),
        cosignedNote: (treeSize, note) => `${note}${cosignatures?.linesFor(treeSize) ?? ''}`,
        certificates: options.certificates,
        logger: logger.child({ module: 'api' }),
        ...(options.erasure ? { erasure: options.erasure } : {}),
      });
      logger.info({ event: 'api.listening', url: `${api.url}/` }, 'API and dashboard (mutual TLS)');
    },
    reconcileNow,
    metrics: () => readSideGauges(readSide),
    async stopApi() {
      clearInterval(reconcileTimer);
      await api?.stop();
    },
    async stop() {
      clearInterval(reconcileTimer);
      await readSide.stop();
    },
  };
  return services;
}

/**
 * The read side's gauges for `/metrics`: late hand-offs, cases held back by role and reason,
 * dead letters, the projections' position. Counted from the projections at each scrape, on the
 * hub's event loop: the late and dead-letter hand-offs from their own index, the held-back cases
 * with one index lookup per case and role.
 */
export function readSideGauges(readSide: ReadSide): Metric[] {
  const c = readSide.store.counts();
  return [
    { name: 'elfe_handoffs_late', help: 'Hand-offs past a deadline, by step: without a receipt (overdue, escalated), acknowledged without a decision (decision-overdue, decision-escalated)', type: 'gauge', samples: [{ labels: { step: 'overdue' }, value: c.overdue }, { labels: { step: 'escalated' }, value: c.escalated }, { labels: { step: 'decision-overdue' }, value: c.decisionOverdue }, { labels: { step: 'decision-escalated' }, value: c.decisionEscalated }] },
    {
      name: 'elfe_cases_held_back',
      help: 'Birth cases without a hand-off to a recipient role, by why: no-consent, consent-withdrawn, no-idnr, certificate (the recipient certificate is unusable), waiting (for routing)',
      type: 'gauge',
      samples: readSide.store
        .heldBack()
        .map((r) => ({ labels: { role: r.role, reason: r.state.replace('held-back:', '') }, value: r.count })),
    },
    { name: 'elfe_handoffs_dead_letters', help: 'Hand-offs given up (dead letters)', type: 'gauge', samples: [{ value: c.deadLetters }] },
    { name: 'elfe_readside_position', help: 'Log position the read side projections reached', type: 'gauge', samples: [{ value: readSide.store.position }] },
    { name: 'elfe_readside_transactions_total', help: 'Commits of the read side projections (each applies what the log had ready)', type: 'counter', samples: [{ value: readSide.stats.transactions }] },
    { name: 'elfe_escalation_webhooks_total', help: 'Escalation webhooks by outcome', type: 'counter', samples: [{ labels: { outcome: 'sent' }, value: readSide.stats.webhooksSent }, { labels: { outcome: 'failed' }, value: readSide.stats.webhooksFailed }] },
  ];
}
