// The exchange beyond one machine, on loopback, for the cluster, PostgreSQL and failover tests:
// the exchange laid out with an external NATS (a cluster or one server) and a chosen event
// store, agency connectors as their own processes, Standesämter submitting bursts from this
// process through their durable outboxes, and the inboxes watched for progress.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import os from 'node:os';
import path from 'node:path';
import { formatRegisterKey } from '../../contracts/index.ts';
import type { Submitter } from '../../connectors/standesamt/src/main.ts';
import { partyCommand, provisionExchange, type Exchange, type ProvisionedParty } from '../../hub/src/app/exchange.ts';
import type { LogStoreConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import type { EventStore } from '../../hub/src/log/eventStore.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSubmitters as openExchangeSubmitters, submitBurst as submitBirths, type Burst } from '../../hub/src/runner/births.ts';
import { startNatsCluster, type NatsCluster } from '../../hub/src/infra/nats/natsCluster.ts';
import { PartyProcess } from './processes.ts';

export interface DistributedExchange {
  readonly root: string;
  readonly exchange: Exchange;
  readonly agencies: readonly ProvisionedParty[];
  readonly metricsPort: number;
  inbox(name: string): string[];
  /** Deliveries in all agencies' inboxes. */
  delivered(): number;
}

export async function provisionDistributed(options: { natsUrl: string; replicas?: number; store?: LogStoreConfig; prefix?: string }): Promise<DistributedExchange> {
  const root = mkdtempSync(path.join(os.tmpdir(), options.prefix ?? 'elfe-dist-'));
  const metricsPort = await freePort();
  const exchange = await provisionExchange(root, {
    natsPort: 0,
    metricsPort,
    nats: { url: options.natsUrl, ...(options.replicas ? { replicas: options.replicas } : {}) },
    hub: {
      // Checkpoints often, so a failover leaves entries under a signed checkpoint to verify.
      log: { checkpoint: { everyEntries: 200, everyMs: 1000 }, origin: 'elfe-hub/log', store: options.store ?? { kind: 'sqlite' } },
      // Redelivery soon after a lost ack (a node or hub gone), so a test waits seconds, not the default 30.
      delivery: { maxDeliver: 50, ackWaitMs: 3000 },
    },
  });
  const agencies = exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse');
  const inbox = (name: string) => {
    const dir = path.join(exchange.root, 'parties', name, 'inbox');
    return existsSync(dir) ? readdirSync(dir).filter((f) => /\.(xml|json)$/.test(f)) : [];
  };
  return { root, exchange, agencies, metricsPort, inbox, delivered: () => agencies.reduce((n, a) => n + inbox(a.name).length, 0) };
}

/** A second hub directory holding the same hub identity (certificates, log key) and configuration. */
export async function standbyHubDir(exchange: Exchange, name = 'hub2'): Promise<string> {
  const dir = path.join(exchange.root, name);
  mkdirSync(path.join(dir, 'ingress'), { recursive: true, mode: 0o700 });
  for (const f of ['cert.pem', 'key.pem', 'hub.key.pem', 'ingress/cert.pem', 'ingress/key.pem']) copyFileSync(path.join(exchange.hubDir, f), path.join(dir, f));
  // The same configuration, and the same case key store (shared storage between the two hubs).
  // Its own metrics and API ports: the second hub stands for another machine, and on this one a
  // port held by the first hub is refused at start.
  const config = JSON.parse(readFileSync(path.join(exchange.hubDir, 'config.json'), 'utf8')) as { metrics?: { port?: number }; api?: Record<string, unknown> } & Record<string, unknown>;
  const own = {
    ...(config.metrics?.port ? { metrics: { ...config.metrics, port: await freePort() } } : {}),
    ...(config.api ? { api: { ...config.api, port: await freePort() } } : {}),
  };
  writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify({ ...config, ...own, keys: { caseKeyFile: path.join(exchange.hubDir, 'keys', 'cases.sqlite') } }, null, 2)}\n`);
  return dir;
}

export const hubProcess = (configFile: string, name = 'hub') => new PartyProcess(name, ['hub', 'start', '--config', configFile]);

export function startConnectors(d: DistributedExchange): PartyProcess[] {
  return d.agencies.map((p) => new PartyProcess(p.name, partyCommand(p)));
}

export const openSubmitters = (d: DistributedExchange): Promise<Map<string, Submitter>> => openExchangeSubmitters(d.exchange.parties, { timeoutMs: 3000 });

/**
 * Submits `births` registrations (with IdNrs: both agencies receive when consent allows) through
 * the Standesämter's durable outboxes, at `rate` per second (Infinity: at once). Returns the
 * number of deliveries they cause and the submission times by message id.
 */
export const submitBurst = (submitters: Map<string, Submitter>, births: number, seed: number, rate = Number.POSITIVE_INFINITY): Promise<Burst> =>
  submitBirths(submitters, { births, seed, rate, label: 'distributed', purpose: 'test of the distributed exchange', firstEntry: seed * 10_000 });

/** Watches a counter every 10 ms and remembers when it moved. */
export class ProgressWatch {
  readonly #moves: number[] = [];
  #last: number;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly count: () => number) {
    this.#last = count();
    this.#timer = setInterval(() => {
      const n = count();
      if (n !== this.#last) {
        this.#last = n;
        this.#moves.push(Date.now());
      }
    }, 10);
  }

  get value(): number {
    return this.#last;
  }

  /** The longest time without progress from `from` until the last move (or `until`). */
  longestStallSince(from: number, until?: number): number {
    const moves = this.#moves.filter((t) => t >= from && (until === undefined || t <= until));
    let longest = 0;
    let previous = from;
    for (const t of moves) {
      longest = Math.max(longest, t - previous);
      previous = t;
    }
    return longest;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export interface LogCheck {
  readonly registered: number;
  readonly scheduled: number;
  /** Deliveries scheduled twice for the same birth, recipient and kind. */
  readonly duplicateKeys: number;
  readonly acknowledged: number;
  /** Scheduled delivery ids by recipient's party name. */
  readonly byRecipient: Map<string, Set<string>>;
}

/** What the log says, read as the hub reads it: case entries opened with the hub's case key store. */
export async function checkLog(raw: EventStore, hubDir: string): Promise<LogCheck> {
  const store = openCaseLog(raw, hubDir);
  let registered = 0;
  const keys = new Set<string>();
  let duplicateKeys = 0;
  const acknowledged = new Set<string>();
  const byRecipient = new Map<string, Set<string>>();
  let scheduled = 0;
  for await (const stored of store.readAll()) {
    const e = fromRecord(stored);
    if (e?.type === 'BirthRegistered') registered++;
    else if (e?.type === 'DeliveryAcknowledged') acknowledged.add(e.data.deliveryId);
    else if (e?.type === 'DeliveryScheduled') {
      scheduled++;
      const key = `${formatRegisterKey(e.data.registerKey)}/${e.data.recipient.dvdv}/${e.data.kind}`;
      if (keys.has(key)) duplicateKeys++;
      keys.add(key);
      const name = e.data.recipient.dvdv.replace(':', '-');
      if (!byRecipient.has(name)) byRecipient.set(name, new Set());
      byRecipient.get(name)!.add(e.data.deliveryId);
    }
  }
  return { registered, scheduled, duplicateKeys, acknowledged: acknowledged.size, byRecipient };
}

/** Each inbox holds exactly the deliveries scheduled for it: nothing lost, nothing extra. */
export function inboxMismatches(d: DistributedExchange, check: LogCheck): string[] {
  const problems: string[] = [];
  for (const a of d.agencies) {
    const want = check.byRecipient.get(a.name) ?? new Set<string>();
    const have = new Set(d.inbox(a.name).map((f) => f.replace(/\.(xml|json)$/, '')));
    const missing = [...want].filter((id) => !have.has(id));
    const extra = [...have].filter((id) => !want.has(id));
    if (missing.length > 0 || extra.length > 0) problems.push(`${a.name}: ${missing.length} missing, ${extra.length} not scheduled`);
  }
  return problems;
}

export const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

export const dirSize = (dir: string): number => (existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0) : 0);

/** One counter of the hub's metrics endpoint (0 while it does not answer). */
export async function hubMetric(port: number, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : 0;
  } catch {
    return 0;
  }
}

/**
 * The exchange of `d` on a one-node NATS at `port` (the port of `d`'s NATS url): the nats-server,
 * the hub and every agency's connector as processes, each waited for until ready, and the
 * Standesämter's submitters. `stop` ends whatever of it started, also after a failed start.
 */
export class OneNodeRun {
  nats: NatsCluster | undefined;
  hub: PartyProcess | undefined;
  connectors: PartyProcess[] = [];
  submitters = new Map<string, Submitter>();

  async start(d: DistributedExchange, port: number): Promise<{ hub: PartyProcess; connectors: PartyProcess[]; submitters: Map<string, Submitter> }> {
    this.nats = await startNatsCluster({ dir: path.join(d.root, 'nats'), caDir: d.exchange.caDir, nodes: 1, clientPorts: [port] });
    const hub = (this.hub = hubProcess(d.exchange.hubConfigFile));
    await hub.ready(/^ready:/m, 120_000);
    const connectors = (this.connectors = startConnectors(d));
    await Promise.all(connectors.map((c) => c.ready(/^ready:/m, 120_000)));
    const submitters = (this.submitters = await openSubmitters(d));
    return { hub, connectors, submitters };
  }

  async stop(): Promise<void> {
    for (const s of this.submitters.values()) await s.close().catch(() => undefined);
    await Promise.all([...this.connectors, ...(this.hub ? [this.hub] : [])].map((p) => p.kill('SIGTERM')));
    await this.nats?.stop();
  }
}
