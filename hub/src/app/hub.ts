// The running hub: log, NATS, ingress, scheduler (routing), relay, receipts, and, on the
// embedded defaults, the agency connectors of the routing table in the same process.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { certificateSigner, certificateVerifier, ed25519Signer, keySetVerifier, type Author, type Role, type Signer } from '../../../contracts/index.ts';
import { loadConnectorSigner, loadVerifier } from '../../../connectors/kit/keys.ts';
import { startElterngeldConnector } from '../../../connectors/elterngeld/src/elterngeldConnector.ts';
import { startFamilienkasseConnector } from '../../../connectors/familienkasse/src/familienkasseConnector.ts';
import type { AgencyConsumer } from '../../../connectors/kit/agencyConsumer.ts';
import { keysDirOf, pkiDirOf, type HubConfig } from '../config/config.ts';
import { ensureCa, ensurePartyCertificate, partyFiles, readParty, recipientKey } from '../pki/parties.ts';
import { caCertificate, pkiStatus, revocationSource } from '../pki/pki.ts';
import { natsSecurityConfig, natsTlsOptions } from '../pki/natsConfig.ts';
import { startLocalNatsServer, type LocalNatsServer } from '../infra/nats/natsServer.ts';
import { ensureStreams } from '../infra/nats/streams.ts';
import { startMetricsServer, type Metric } from './metrics.ts';
import { startIngress, type Ingress } from '../ingress/ingress.ts';
import { loadOrCreateHubKey, loadOrCreateSigner, loadTrustedKeys } from '../keys/keyDirectory.ts';
import { openHubLog } from '../log/openHubLog.ts';
import { hubProducer } from '../log/records.ts';
import type { TransparentLog } from '../log/transparentLog.ts';
import { startReceiptProcessor, type ReceiptProcessor } from '../receipts/receipts.ts';
import { startRelay, type Relay } from '../relay/relay.ts';
import { startScheduler, type Scheduler } from '../scheduler/scheduler.ts';

export interface RunningHub {
  readonly config: HubConfig;
  readonly log: TransparentLog;
  readonly natsUrl: string;
  readonly nats?: LocalNatsServer;
  readonly ingress: Ingress;
  readonly scheduler: Scheduler;
  readonly relay: Relay;
  readonly receipts: ReceiptProcessor;
  readonly agencies: ReadonlyMap<string, AgencyConsumer>;
  readonly keysDir: string;
  /** Port of the metrics endpoint, when enabled. */
  readonly metricsPort?: number;
  /** Connection options (TLS with the party's certificate in pki mode) for a named party. */
  connectOptionsFor(partyName: string): { tls?: { caFile: string; certFile: string; keyFile: string } };
  inboxOf(dvdv: string): string;
  stop(): Promise<void>;
}

const keyName = (dvdv: string) => dvdv.replace(':', '-');

/** Header data for 131011 on behalf of a Standesamt, from the configuration's directory of Standesämter. */
export function standesamtAuthor(config: HubConfig): (standesamtsnummer: string) => Author {
  return (nummer) => {
    const entry = config.standesaemter.find((s) => s.standesamtsnummer === nummer);
    if (!entry) throw new Error(`Standesamt ${nummer} is not in the configuration (standesaemter)`);
    return { dvdv: `psw:${nummer}`, name: entry.name, phone: entry.phone, address: entry.address };
  };
}

/** The hub's delivery signer over its key, and its public key file in the key directory for the connectors. */
function hubSigner(config: HubConfig, keysDir: string): Signer {
  const key = loadOrCreateHubKey(path.resolve(config.dataDir));
  const file = path.join(keysDir, 'hub.pub.json');
  if (!existsSync(file)) {
    writeFileSync(file, `${JSON.stringify({ dvdv: hubProducer.dvdv, role: 'hub', name: hubProducer.name, publicKeyPem: key.publicKey.export({ type: 'spki', format: 'pem' }).toString() }, null, 2)}\n`);
  }
  return ed25519Signer(key.privateKey, { dvdv: hubProducer.dvdv, role: 'hub', name: hubProducer.name });
}

/** Certificates instead of key pairs: the CA (created on first use), the hub's certificate, a verifier that reloads revocations. */
function pkiTrust(config: HubConfig, say: (line: string) => void) {
  const dir = pkiDirOf(config);
  ensureCa(dir);
  const party = (p: { name: string; role: Role; dvdv: string; displayName: string; serverNames?: readonly string[] }) => ensurePartyCertificate(dir, p);
  const hub = readParty(party({ name: 'hub', role: 'hub', dvdv: hubProducer.dvdv, displayName: hubProducer.name }));
  for (const c of pkiStatus(dir, { warnDays: 30 })) {
    if (c.expiresSoon && !c.revoked) say(`certificate ${c.serial} (${c.subject}) expires in ${c.daysLeft} days`);
  }
  return {
    dir,
    party,
    hubSigner: certificateSigner(hub.privateKey, hub.certificatePem),
    verifier: certificateVerifier({ caCertificatePem: caCertificate(dir), revokedSerials: revocationSource(dir) }),
    agencyCredentials(name: string) {
      const own = readParty(partyFiles(dir, name));
      return { signer: certificateSigner(own.privateKey, own.certificatePem), decryptionKey: own.privateKey };
    },
  };
}

export async function startHub(config: HubConfig, options: { log?: (line: string) => void } = {}): Promise<RunningHub> {
  const say = options.log ?? (() => undefined);
  const dataDir = path.resolve(config.dataDir);
  const keysDir = keysDirOf(config);
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const log = await openHubLog({ dataDir, checkpoint: config.log.checkpoint, origin: config.log.origin });
  const pki = config.trust.mode === 'pki' ? pkiTrust(config, say) : undefined;
  const signer = pki ? pki.hubSigner : hubSigner(config, keysDir);
  // Every agency of the routing table has a key pair or certificate; producers' are provisioned
  // with `elfe keys create` / `elfe pki issue`.
  const agencies = [
    ...config.routing.elterngeldstellen.map((a) => ({ ...a, role: 'elterngeldstelle' as const })),
    ...config.routing.familienkassen.map((a) => ({ ...a, role: 'familienkasse' as const })),
  ];
  for (const a of agencies) {
    if (pki) pki.party({ name: keyName(a.dvdv), dvdv: a.dvdv, role: a.role, displayName: a.name });
    else loadOrCreateSigner(keysDir, { name: keyName(a.dvdv), dvdv: a.dvdv, role: a.role });
  }
  // With the PKI, every connection is TLS with the party's certificate.
  const tlsAs = (name: string) => (pki ? { tls: natsTlsOptions(pki.dir, partyFiles(pki.dir, name)) } : {});
  let nats: LocalNatsServer | undefined;
  let natsUsersTimer: NodeJS.Timeout | undefined;
  let natsUrl = config.nats.url;
  if (!natsUrl) {
    const serverParty = pki?.party({ name: 'nats-server', role: 'hub', dvdv: 'hub:nats', displayName: 'nats-server', serverNames: ['127.0.0.1', 'localhost'] });
    let security = pki && serverParty ? natsSecurityConfig(pki.dir, serverParty) : undefined;
    const server = await startLocalNatsServer({
      storeDir: path.join(dataDir, 'nats'),
      ...(config.nats.port ? { port: config.nats.port } : {}),
      ...(security ? { extraConfig: security } : {}),
    });
    nats = server;
    if (pki && serverParty) {
      // Issued and revoked certificates reach the nats-server's users without a restart.
      natsUsersTimer = setInterval(() => {
        const next = natsSecurityConfig(pki.dir, serverParty);
        if (next === security) return;
        security = next;
        say('certificates changed: reloading the nats-server users');
        void server.reconfigure(next);
      }, 2000);
      natsUsersTimer.unref();
    }
    natsUrl = nats.url;
    say(`nats-server started on ${natsUrl}`);
  }
  const nc: NatsConnection = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: 'elfe-hub', ...tlsAs('hub') });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStreams(jsm);

  const verifier = pki ? pki.verifier : keySetVerifier(loadTrustedKeys(keysDir));

  const ingress = startIngress({ nc, log, verifier, maxBytes: config.ingress.maxBytes });
  const scheduler = startScheduler({
    log,
    table: config.routing,
    onUnroutable: (stream, reason) => say(`unroutable ${stream}: ${reason}`),
    ...(pki
      ? {
          encryptFor: (dvdv: string) => recipientKey(partyFiles(pki.dir, keyName(dvdv))),
          onUndeliverable: (id: string, dvdv: string, reason: string) => say(`delivery ${id} to ${dvdv} held back: ${reason}`),
        }
      : {}),
  });
  const relay = await startRelay({ js, jsm, log, signer });
  const receipts = await startReceiptProcessor({ nc, js, jsm, log, verifier });

  const metrics = config.metrics.port === undefined ? undefined : await startMetricsServer(config.metrics.port, async () => hubMetrics());
  const hubMetrics = async (): Promise<Metric[]> => [
    { name: 'elfe_log_entries', help: 'Entries in the log', type: 'gauge', samples: [{ value: await log.size() }] },
    { name: 'elfe_log_checkpoint_tree_size', help: 'Tree size of the latest signed checkpoint', type: 'gauge', samples: [{ value: log.latestCheckpoint()?.treeSize ?? 0 }] },
    { name: 'elfe_submissions_total', help: 'Submissions by outcome', type: 'counter', samples: Object.entries(ingress.stats).map(([outcome, value]) => ({ labels: { outcome }, value })) },
    { name: 'elfe_deliveries_total', help: 'Delivery decisions by outcome', type: 'counter', samples: Object.entries(scheduler.stats).filter(([k]) => k !== 'position').map(([outcome, value]) => ({ labels: { outcome }, value })) },
    { name: 'elfe_receipts_total', help: 'Receipts and dead letters by outcome', type: 'counter', samples: Object.entries(receipts.stats).map(([outcome, value]) => ({ labels: { outcome }, value })) },
    ...(pki
      ? [{ name: 'elfe_certificate_expiry_days', help: 'Days until each issued, unrevoked certificate expires', type: 'gauge' as const, samples: pkiStatus(pki.dir).filter((c) => !c.revoked).map((c) => ({ labels: { serial: c.serial, subject: c.subject }, value: c.daysLeft })) }]
      : []),
  ];

  const inboxOf = (dvdv: string) => path.join(dataDir, 'inbox', keyName(dvdv));
  const running = new Map<string, AgencyConsumer>();
  const agencyConnections: NatsConnection[] = [];
  if (config.connectors.inProcess) {
    const hubVerifier = pki ? pki.verifier : loadVerifier(keysDir, ['hub']);
    for (const a of agencies) {
      const anc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: `agency ${a.dvdv}`, ...tlsAs(keyName(a.dvdv)) });
      agencyConnections.push(anc);
      const common = {
        nc: anc,
        dvdv: a.dvdv,
        ...(pki ? pki.agencyCredentials(keyName(a.dvdv)) : { signer: loadConnectorSigner(keysDir, keyName(a.dvdv)) }),
        hubVerifier,
        inboxDir: inboxOf(a.dvdv),
        stateDir: path.join(dataDir, 'connectors', keyName(a.dvdv)),
        maxDeliver: config.delivery.maxDeliver,
        ackWaitMs: config.delivery.ackWaitMs,
        log: (line: string) => say(`${a.dvdv}: ${line}`),
      };
      running.set(a.dvdv, a.role === 'elterngeldstelle' ? await startElterngeldConnector({ ...common, name: a.name, author: standesamtAuthor(config) }) : await startFamilienkasseConnector(common));
    }
  }

  let stopped = false;
  return {
    config,
    log,
    natsUrl,
    ...(nats ? { nats } : {}),
    ingress,
    scheduler,
    relay,
    receipts,
    agencies: running,
    keysDir,
    connectOptionsFor: tlsAs,
    ...(metrics ? { metricsPort: metrics.port } : {}),
    inboxOf,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (natsUsersTimer) clearInterval(natsUsersTimer);
      await metrics?.stop();
      for (const a of running.values()) await a.stop();
      for (const c of agencyConnections) await c.close();
      await ingress.stop();
      await receipts.stop();
      await relay.stop();
      await scheduler.stop();
      await nc.close();
      await log.close();
      await nats?.stop();
    },
  };
}
