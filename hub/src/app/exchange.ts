// The layout of a whole exchange on one machine, as `elfe start`, the demo and the tests use
// it: every party in its own directory with its own key, which never leaves it.
//
//   DATA/ca/                 the exchange CA: its key, certificate, CRL, issued certificates
//   DATA/hub/                the hub: its key and certificate (and its ingress responder's in
//                            ingress/), log signing key, log, tree, nats store
//   DATA/parties/<name>/     one party: its key, certificate, configuration, outbox or inbox, state
//   DATA/witness/            a local witness (C2SP tlog-witness): its own Ed25519 key, config.json
//                            and state/ (the last checkpoint it cosigned, its lock); the hub's
//                            config names it in "witnesses", so every checkpoint goes to it
//
// Each party generates its key pair and a CSR in its own directory; the operator registers the
// party in the CA's register (role, address, name) and the CA signs the CSR under its policy
// (the operator carries it across; here it is a file copy). The CA never sees a party's key.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hubIdentity, hubIngressIdentity, type Role } from '../../../contracts/index.ts';
import { createRequest, type RequestOptions } from '../../../connectors/kit/credentials.ts';
import { verifierKey } from '../../../contracts/index.ts';
import { parseConfig, type HubConfig } from '../config/config.ts';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';
import { createWitnessKey } from '../witness/witnessKey.ts';
import { adoptCertificate, pkiInit, registerParty, signRequest } from '../pki/pki.ts';

export interface PartySpec {
  /** Directory name under `parties/`. */
  readonly name: string;
  readonly role: Role;
  readonly dvdv: string;
  readonly displayName: string;
}

export interface ProvisionedParty extends PartySpec {
  readonly dir: string;
  readonly configFile: string;
}

export interface Exchange {
  readonly root: string;
  readonly caDir: string;
  readonly hubDir: string;
  readonly hubConfigFile: string;
  readonly natsUrl: string;
  readonly metricsPort?: number;
  /** Port of the hub's HTTP API and dashboard, when its configuration enables it. */
  readonly apiPort?: number;
  readonly parties: readonly ProvisionedParty[];
  /** The local witness, when the layout has one. */
  readonly witness?: LocalWitness;
  party(name: string): ProvisionedParty;
}

export interface LocalWitness {
  readonly dir: string;
  readonly configFile: string;
  /** Its submission prefix, as the hub's config names it. */
  readonly url: string;
  readonly port: number;
  readonly verifierKey: string;
}

export interface ProvisionOptions {
  /** Port of the hub's local nats-server. */
  readonly natsPort: number;
  readonly metricsPort?: number;
  /** Port of the hub's HTTP API and dashboard (mutual TLS). */
  readonly apiPort?: number;
  /** Hub configuration beyond the layout (routing, Standesämter, delivery limits, log policy). */
  readonly hub?: Partial<Omit<HubConfig, 'dataDir' | 'nats' | 'trust' | 'metrics' | 'api'>>;
  readonly meldebehoerde?: { readonly dvdv: string; readonly name: string };
  /** An external NATS (e.g. the nodes of `elfe cluster nats`, comma-separated) instead of the hub's local nats-server. */
  readonly nats?: { readonly url: string; readonly replicas?: number };
  /**
   * Lay out a local witness in `DATA/witness/` listening on `port` (kept once written) and name
   * it in the hub's "witnesses" (`elfe exchange init`, `elfe start`). Not when the hub's
   * configuration already names its own witnesses.
   */
  readonly witness?: { readonly port: number };
}

export const partyNameOf = (dvdv: string): string => dvdv.replace(':', '-');

/** The server names of identities on one machine. */
export const loopbackNames: readonly string[] = ['127.0.0.1', 'localhost'];

/** One of the hub's identities: the subdirectory it lives in (relative to the hub's directory, `nats-server` its own) and its request. */
export interface HubIdentityRequest {
  readonly subdir: '.' | 'ingress' | 'api' | 'nats-server';
  readonly request: RequestOptions;
  /** Issued only with the CA's explicit hub-identity flag. */
  readonly hubIdentity: boolean;
  readonly purpose: string;
}

/**
 * Every identity a working hub needs: its signing identity (`hub:elfe-hub`), its ingress
 * responder (`hub:ingress`, which may only answer submissions), the API's TLS server identity
 * and, when the hub runs its own nats-server, that server's TLS identity.
 */
export function hubIdentities(serverNames: readonly string[], options: { natsServer?: boolean } = {}): HubIdentityRequest[] {
  return [
    { subdir: '.', request: { role: 'hub', dvdv: hubIdentity.dvdv, name: hubIdentity.name }, hubIdentity: true, purpose: 'the hub: signs deliveries and log checkpoints, its NATS user' },
    { subdir: 'ingress', request: { role: 'hub', dvdv: hubIngressIdentity.dvdv, name: hubIngressIdentity.name }, hubIdentity: true, purpose: 'the ingress responder: may only answer submissions' },
    { subdir: 'api', request: { name: 'elfe-hub api', serverNames, tlsServer: true }, hubIdentity: false, purpose: "the API's and dashboard's TLS server identity" },
    ...(options.natsServer === false ? [] : [{ subdir: 'nats-server' as const, request: { name: 'nats-server', serverNames, tlsServer: true as const }, hubIdentity: false, purpose: "the hub's own nats-server's TLS server identity" }]),
  ];
}

/** A party's configuration as the layout and `elfe init` write it: every setting with its value, defaults included. */
export function partyConfigOf(
  role: Role,
  dvdv: string,
  name: string,
  context: { natsUrl: string; trust: { caCertFile: string; crlFile: string }; delivery?: HubConfig['delivery']; standesaemter?: HubConfig['standesaemter'] },
): Record<string, unknown> {
  const hubConfig = parseConfig({});
  return {
    role,
    dvdv,
    name,
    dir: '.',
    nats: { url: context.natsUrl },
    trust: context.trust,
    ...(role === 'elterngeldstelle' || role === 'familienkasse' ? { delivery: context.delivery ?? hubConfig.delivery } : {}),
    ...(role === 'elterngeldstelle' ? { standesaemter: context.standesaemter ?? hubConfig.standesaemter } : {}),
    // The submitting offices' settings, written out so that the operator sees them.
    ...(role === 'standesamt' ? { watch: { pairWindowSeconds: 5, intervalMs: 1000 } } : {}),
    ...(role === 'standesamt' || role === 'meldebehoerde' ? { outbox: { retentionHours: 24 }, clockSkewSeconds: 300 } : {}),
  };
}
const defaultMeldebehoerde = { dvdv: 'mbh:demo', name: 'Meldebehörde (Demo)' };

const writeJson = (file: string, value: unknown) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });

/**
 * A key pair and CSR in `dir` (the party's side); the operator registers the party in the CA's
 * register and the CA signs the request under its policy (the operator's side). Only the hub's
 * own enrolment passes `hubIdentity`.
 */
async function enrol(caDir: string, dir: string, request: Parameters<typeof createRequest>[1], options: { hubIdentity?: boolean } = {}): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entry = request.tlsServer
    ? { kind: 'tls-server' as const, name: request.name, serverNames: request.serverNames }
    : { kind: 'party' as const, role: request.role, dvdv: request.dvdv, name: request.name, serverNames: request.serverNames ?? [] };
  const certFile = path.join(dir, 'cert.pem');
  if (existsSync(certFile)) {
    // A layout from before the register: its certificate becomes the registered holder.
    await adoptCertificate(caDir, readFileSync(certFile, 'utf8'), entry, options.hubIdentity ? { allowHubIdentity: true } : {});
    return;
  }
  const requestFile = path.join(dir, 'request.csr');
  if (!existsSync(requestFile)) await createRequest(dir, request);
  await registerParty(caDir, entry, options.hubIdentity ? { allowHubIdentity: true } : {});
  const issued = await signRequest(caDir, readFileSync(requestFile, 'utf8'), options.hubIdentity ? { allowHubIdentity: true } : {});
  writeFileSync(path.join(dir, 'cert.pem'), issued.certificatePem);
}

/** Creates what is missing of the layout (CA, keys, certificates, configurations); keeps what exists. */
export async function provisionExchange(root: string, options: ProvisionOptions): Promise<Exchange> {
  const abs = path.resolve(root);
  const caDir = path.join(abs, 'ca');
  const hubDir = path.join(abs, 'hub');
  const partiesDir = path.join(abs, 'parties');
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  if (!existsSync(path.join(caDir, 'ca.key.pem'))) await pkiInit(caDir);

  const hubConfig = parseConfig({ ...options.hub, dataDir: hubDir });
  for (const identity of hubIdentities(loopbackNames)) {
    const dir = identity.subdir === 'nats-server' ? path.join(partiesDir, 'nats-server') : path.join(hubDir, identity.subdir);
    await enrol(caDir, dir, identity.request, { hubIdentity: identity.hubIdentity });
  }

  const melde = options.meldebehoerde ?? defaultMeldebehoerde;
  const specs: PartySpec[] = [
    ...hubConfig.routing.elterngeldstellen.map((a) => ({ name: partyNameOf(a.dvdv), role: 'elterngeldstelle' as const, dvdv: a.dvdv, displayName: a.name })),
    ...hubConfig.routing.familienkassen.map((a) => ({ name: partyNameOf(a.dvdv), role: 'familienkasse' as const, dvdv: a.dvdv, displayName: a.name })),
    ...hubConfig.standesaemter.map((s) => ({ name: `sta-${s.standesamtsnummer}`, role: 'standesamt' as const, dvdv: `psw:${s.standesamtsnummer}`, displayName: s.name })),
    { name: partyNameOf(melde.dvdv), role: 'meldebehoerde', dvdv: melde.dvdv, displayName: melde.name },
  ];
  const natsUrl = options.nats?.url ?? `nats://127.0.0.1:${options.natsPort}`;
  const trust = { caCertFile: '../../ca/ca.cert.pem', crlFile: '../../ca/crl.pem' };
  const parties: ProvisionedParty[] = [];
  for (const spec of specs) {
    const dir = path.join(partiesDir, spec.name);
    await enrol(caDir, dir, { role: spec.role, dvdv: spec.dvdv, name: spec.displayName });
    const configFile = path.join(dir, 'config.json');
    if (!existsSync(configFile)) writeJson(configFile, partyConfigOf(spec.role, spec.dvdv, spec.displayName, { natsUrl, trust, delivery: hubConfig.delivery, standesaemter: hubConfig.standesaemter }));
    parties.push({ ...spec, dir, configFile });
  }

  const hubConfigFile = path.join(hubDir, 'config.json');
  const witness = options.witness ? layOutWitness(abs, hubDir, hubConfigFile, options.witness.port, options.hub?.log?.origin) : undefined;
  if (!existsSync(hubConfigFile)) {
    writeJson(hubConfigFile, {
      // The one Meldebehörde laid out here is responsible for every case (unless the table says otherwise).
      ...(options.meldebehoerde && !options.hub?.meldebehoerden ? { meldebehoerden: { rules: [], default: options.meldebehoerde.dvdv } } : {}),
      ...options.hub,
      dataDir: '.',
      nats: options.nats
        ? { url: options.nats.url, replicas: options.nats.replicas ?? 1, serverDir: '../parties/nats-server' }
        : { port: options.natsPort, serverDir: '../parties/nats-server' },
      trust: { caCertFile: '../ca/ca.cert.pem', crlFile: '../ca/crl.pem', issuedDir: '../ca/issued' },
      ...(options.metricsPort !== undefined ? { metrics: { port: options.metricsPort } } : {}),
      ...(options.apiPort !== undefined ? { api: { port: options.apiPort } } : {}),
      ...(witness ? { witnesses: [{ url: witness.url, verifierKey: witness.verifierKey }] } : {}),
    });
  }
  const written = JSON.parse(readFileSync(hubConfigFile, 'utf8')) as { nats?: { port?: number; url?: string }; metrics?: { port?: number }; api?: { port?: number } };
  const port = written.nats?.port ?? options.natsPort;
  const writtenUrl = typeof written.nats?.url === 'string' ? written.nats.url : undefined;
  return {
    root: abs,
    caDir,
    hubDir,
    hubConfigFile,
    natsUrl: writtenUrl ?? `nats://127.0.0.1:${port}`,
    ...(written.metrics?.port !== undefined ? { metricsPort: written.metrics.port } : {}),
    ...(written.api?.port !== undefined ? { apiPort: written.api.port } : {}),
    parties,
    ...(witness ? { witness } : {}),
    party(name) {
      const found = parties.find((p) => p.name === name);
      if (!found) throw new Error(`no party ${name} in ${abs}`);
      return found;
    },
  };
}

const witnessName = 'elfe-witness.local/w1';

/**
 * The local witness of `DATA/witness/`: made when missing (its key, a config.json naming the
 * hub's log verifier key, state/), and added to the hub's "witnesses" of a configuration that
 * names none yet. The hub's log key is made here for that (the hub would make it at its first
 * start). Kept as it is once laid out; none when the hub's configuration names its own witnesses.
 */
function layOutWitness(root: string, hubDir: string, hubConfigFile: string, port: number, configuredOrigin: string | undefined): LocalWitness | undefined {
  const dir = path.join(root, 'witness');
  const configFile = path.join(dir, 'config.json');
  const hubConfig = existsSync(hubConfigFile) ? (JSON.parse(readFileSync(hubConfigFile, 'utf8')) as { witnesses?: unknown; log?: { origin?: string } }) : undefined;
  if (existsSync(configFile)) {
    const written = JSON.parse(readFileSync(configFile, 'utf8')) as { port: number; host?: string; verifierKey: string };
    const url = `http://${written.host ?? '127.0.0.1'}:${written.port}`;
    return { dir, configFile, url, port: written.port, verifierKey: written.verifierKey };
  }
  if (hubConfig && hubConfig.witnesses !== undefined) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hubKey = loadOrCreateHubKey(hubDir);
  const logKey = verifierKey(hubConfig?.log?.origin ?? configuredOrigin ?? 'elfe-hub/log', hubKey.publicKey);
  const keyFile = path.join(dir, 'witness.key');
  const key = existsSync(keyFile) ? undefined : createWitnessKey(keyFile, witnessName);
  if (!key) throw Object.assign(new Error(`${keyFile} exists without ${configFile}`), { code: 'invalid-config', hint: `move ${dir} away (a witness key is never overwritten), then run again` });
  const url = `http://127.0.0.1:${port}`;
  writeJson(configFile, {
    '//': {
      role: "a witness (C2SP tlog-witness) on this machine: it cosigns each of the hub's checkpoints after checking that it extends the last one it cosigned. Run by the same operator it only catches accidents; witnesses run by other organisations on their machines are what make a fork visible (README, Witnesses)",
      key: "the witness's Ed25519 key (0600, never leaves this directory)",
      verifierKey: "this witness's verifier key, named in the hub's \"witnesses\" with the url",
      log: "the hub's log verifier key (elfe keys show --data hub): the only log it cosigns",
      state: 'the last checkpoint it cosigned (and its lock: one witness process per state)',
    },
    role: 'witness',
    name: key.name,
    key: 'witness.key',
    verifierKey: key.verifierKey,
    log: logKey,
    host: '127.0.0.1',
    port,
    state: 'state',
  });
  mkdirSync(path.join(dir, 'state'), { recursive: true, mode: 0o700 });
  if (hubConfig) writeJson(hubConfigFile, { ...hubConfig, witnesses: [{ url, verifierKey: key.verifierKey }] });
  return { dir, configFile, url, port, verifierKey: key.verifierKey };
}

/** The command line that runs the local witness as its own process. */
export const witnessCommand = (witness: Pick<LocalWitness, 'configFile'>): string[] => ['witness', 'start', '--config', witness.configFile];

/** The command line that runs one party as its own process. */
export function partyCommand(party: Pick<ProvisionedParty, 'role' | 'configFile'>): string[] {
  switch (party.role) {
    case 'elterngeldstelle':
      return ['connector', 'elterngeld', '--config', party.configFile];
    case 'familienkasse':
      return ['connector', 'familienkasse', '--config', party.configFile];
    default:
      throw new Error(`a ${party.role} does not run as a service`);
  }
}

/** A party's process: its name and the arguments after `elfe`. */
export interface ProcessSpec {
  readonly name: string;
  readonly args: readonly string[];
}

/** The processes of a one-machine exchange: the local witness, the hub, each agency's connector, each Standesamt's watch directory. */
export function exchangeProcesses(exchange: Pick<Exchange, 'hubConfigFile' | 'parties' | 'witness'>): ProcessSpec[] {
  return [
    ...(exchange.witness ? [{ name: 'witness', args: witnessCommand(exchange.witness) }] : []),
    { name: 'hub', args: ['hub', 'start', '--config', exchange.hubConfigFile] },
    ...exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse').map((p) => ({ name: p.name, args: partyCommand(p) })),
    ...exchange.parties.filter((p) => p.role === 'standesamt').map((p) => ({ name: p.name, args: ['standesamt', 'watch', path.join(p.dir, 'watch'), '--config', p.configFile] })),
  ];
}

/** An auditor's client identity for the dashboard (`parties/<name>/`: key, CSR, certificate of the CA); kept when it exists. */
export async function enrolAuditor(exchange: Pick<Exchange, 'root' | 'caDir'>, name = 'aud-local', dvdv = `aud:${name}`): Promise<{ dir: string; certFile: string; keyFile: string; caCertFile: string }> {
  const dir = path.join(exchange.root, 'parties', name);
  await enrol(exchange.caDir, dir, { role: 'auditor', dvdv, name: `Auditor (${name})` });
  return { dir, certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caCertFile: path.join(exchange.caDir, 'ca.cert.pem') };
}

/** The line that tells an operator where the dashboard is and which certificate opens it. */
export const dashboardLine = (apiPort: number, auditor: { certFile: string; keyFile: string; caCertFile: string }): string =>
  `dashboard: https://127.0.0.1:${apiPort}/ (client certificate: ${auditor.certFile}, key ${auditor.keyFile}, CA ${auditor.caCertFile})`;
