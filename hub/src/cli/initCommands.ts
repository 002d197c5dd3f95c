// `elfe init <role>`: one command sets up one party in its own directory, as it runs on its own
// machine: its key (0600, never printed, never leaves the directory), its certificate
// request(s) for the CA and a complete `config.json` in which every setting is written out
// with its value (defaults included) and explained under `"//"` keys (JSON has no comments;
// the configuration readers drop `"//"`). It prints which files go to the CA and come back,
// and the `elfe pki register` and `elfe pki sign` lines the CA's operator runs. The hub gets
// all of its identities at once (the hub's, its ingress responder's, the API's TLS server and,
// when it runs its own nats-server, that server's), the same list `provisionExchange` enrols.
//
// `elfe routing show`: the routing table and the responsible Meldebehörden in force.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { CodedError, roleAddressMismatch, type Role } from '../../../contracts/index.ts';
import { createRequest, type RequestOptions } from '../../../connectors/kit/credentials.ts';
import { PartyConfigSchema } from '../../../connectors/kit/partyConfig.ts';
import { hubIdentities, loopbackNames, partyConfigOf } from '../app/exchange.ts';
import { loadConfig, parseConfig, type HubConfig } from '../config/config.ts';
import { readHolders } from '../pki/register.ts';
import { certificateProblems, routesInForce, routingLines, routingProblems, type RoutingProblem } from '../routing/routingCheck.ts';
import { createWitnessKey, WitnessKeyError } from '../witness/witnessKey.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

/** The kinds of party `elfe init` sets up (and the words it also accepts for them). */
export const initRoles = ['hub', 'nats-node', 'standesamt', 'meldebehoerde', 'elterngeldstelle', 'familienkasse', 'auditor', 'cockpit', 'witness'] as const;
export type InitRole = (typeof initRoles)[number];
const aliases: Readonly<Record<string, InitRole>> = { 'nats-server': 'nats-node', datenschutzcockpit: 'cockpit' };

export class InitError extends CodedError<'exists' | 'invalid-input'> {
  override readonly name = 'InitError';
}

/** A word for the shell: quoted when it holds anything but safe characters. */
export const shellWord = (word: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `"${word.replace(/(["\\$`])/g, '\\$1')}"`);
const command = (words: readonly string[]): string => words.map(shellWord).join(' ');

/** A path as the operator typed it relative to the current directory, for the lines printed. */
const shown = (file: string): string => {
  const rel = path.relative(process.cwd(), file);
  return rel === '' ? '.' : rel.startsWith('..') && path.isAbsolute(file) ? file : rel;
};
/** A path written into a configuration: relative to the configuration's directory. */
const relativeTo = (dir: string, file: string): string => path.relative(dir, path.resolve(file)) || '.';

/** The NATS URL's host and port (`nats://HOST:PORT`, or a comma-separated list of them). */
function natsUrlOf(text: string): { url: string; host: string; port: number } {
  const first = text.split(',')[0]!.trim();
  let url: URL;
  try {
    url = new URL(first);
  } catch {
    throw new InitError('invalid-input', `--hub ${text}: not a NATS URL (nats://HOST:PORT)`);
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new InitError('invalid-input', `--hub ${text}: a NATS URL starts with nats:// (e.g. nats://hub.example:4222)`);
  const port = url.port === '' ? 4222 : Number(url.port);
  return { url: text, host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

export interface InitOptions {
  readonly role: InitRole;
  readonly dir: string;
  /** The hub's NATS as the party reaches it; for the hub, the address its own nats-server serves (or an external NATS with `externalNats`). */
  readonly hub?: string;
  readonly caCert?: string;
  /** Default: `crl.pem` beside the CA certificate. */
  readonly crl?: string;
  /** Hub: the CA's published `issued/` directory. Default: `issued/` beside the CA certificate. */
  readonly issued?: string;
  readonly dvdv?: string;
  readonly name?: string;
  readonly serverNames?: readonly string[];
  /** Hub: the API's port (default 8443). */
  readonly apiPort?: number;
  /** Hub: connect to the NATS at `hub` instead of running its own nats-server. */
  readonly externalNats?: boolean;
  /** Auditor, cockpit: the hub's API (default https://<hub host>:8443). */
  readonly api?: string;
  /** Witness: its port. */
  readonly port?: number;
}

export interface InitResult {
  readonly role: InitRole;
  readonly dir: string;
  readonly configFile: string;
  /** The private keys written (0600); they stay in the directory. */
  readonly keys: readonly string[];
  /** The files to carry to the CA. */
  readonly toCa: readonly string[];
  /** What comes back from the CA, and where it goes. */
  readonly fromCa: readonly { readonly what: string; readonly to: string }[];
  /** The lines the CA's operator runs. */
  readonly caCommands: readonly string[];
  /** How the party runs once its certificate is back. */
  readonly run: readonly string[];
  readonly notes: readonly string[];
}

function required<T>(value: T | undefined, option: string, role: string): T {
  if (value === undefined || value === '') throw new UsageError(`elfe init ${role} needs ${option}`);
  return value;
}

/** The CA's register and sign lines for one request. */
function caLines(caDir: string, dir: string, request: RequestOptions, hubIdentity: boolean): string[] {
  const register = request.tlsServer
    ? ['elfe', 'pki', 'register', '--dir', caDir, '--tls-server', '--name', request.name, ...request.serverNames.flatMap((n) => ['--server-name', n])]
    : ['elfe', 'pki', 'register', '--dir', caDir, '--role', request.role, '--dvdv', request.dvdv, '--name', request.name, ...(request.serverNames ?? []).flatMap((n) => ['--server-name', n])];
  const sign = ['elfe', 'pki', 'sign', shown(path.join(dir, 'request.csr')), '--dir', caDir, '--out', shown(path.join(dir, 'cert.pem'))];
  return [command([...register, ...(hubIdentity ? ['--allow-hub-identity'] : [])]), command([...sign, ...(hubIdentity ? ['--allow-hub-identity'] : []), '--yes'])];
}

const writeConfig = (file: string, config: unknown) => writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });

/** Comments of a party's configuration, by setting. */
const partyComments = (role: Role): Record<string, string> => ({
  role: 'the role the CA certified (do not change)',
  dvdv: "the party's DVDV address, as in its certificate (do not change)",
  name: 'display name; the certificate carries the name the CA registered',
  dir: "this party's own directory: key.pem (0600, never leaves it), request.csr, cert.pem (from the CA), its state" + (role === 'standesamt' || role === 'meldebehoerde' ? ' and outbox.sqlite' : role === 'elterngeldstelle' || role === 'familienkasse' ? ', inbox/ and receipts' : ''),
  nats: "url: the hub's NATS (TLS with this party's certificate); several nodes as a comma-separated list",
  trust: "caCertFile: the exchange CA's certificate; crlFile: the CA's revocation list (copy each new one here; re-read when it changes); crlGraceHours: how long after the CRL's nextUpdate it still counts (default 24); relative paths are relative to this file",
  hub: "dvdv: the hub whose signature on deliveries is accepted (default hub:elfe-hub)",
  ...(role === 'elterngeldstelle' || role === 'familienkasse' ? { inboxDir: "where deliveries are written (absent: <dir>/inbox); the agency's case system drops milestones into <dir>/milestones/ (one JSON file each: deliveryId, status, code, at; see the README)", delivery: 'maxDeliver: redeliveries before a delivery is dead-lettered (default 5); ackWaitMs: how long one delivery may take before it is redelivered (default 30000); the same as the hub\'s' } : {}),
  ...(role === 'elterngeldstelle' ? { standesaemter: 'header data of the Standesämter on whose behalf 131011 messages are written (the hub\'s list)' } : {}),
  ...(role === 'standesamt' ? { watch: 'elfe standesamt watch: pairWindowSeconds: how long a 081020 waits for its 081021 (default 5); intervalMs: how often the folder is read (default 1000)' } : {}),
  outbox: 'Standesamt, Meldebehörde: answered submissions (with their personal data) leave the outbox this many hours after the hub\'s answer (default 24)',
  clockSkewSeconds: 'a date later than now plus this is refused as date-in-future (default 300), as the hub does',
  startupTimeoutSeconds: "how long to wait for the hub's NATS at start, reporting every attempt (default 60)",
});

const hubComments: Record<string, string> = {
  dataDir: "the hub's own directory (relative to this file): key.pem/cert.pem (hub:elfe-hub), ingress/ (hub:ingress), api/ (the API's TLS server), the log signing key, the log, the Merkle tree, keys/cases.sqlite and the nats store",
  nats: "port: the port of the hub's own nats-server (listening on 127.0.0.1), whose TLS identity is in serverDir; or url: an external NATS (one URL, a comma-separated list or an array; then no nats-server is started); replicas: JetStream replicas (3 on a three-node cluster); maxConnectionsPerCertificate / connectionLimitBlockSeconds: one certificate's connections on the hub's own nats-server (defaults 16 and 60)",
  trust: "what the CA publishes: caCertFile, crlFile (re-read when it changes) and issuedDir (the issued certificates and the CA-signed holders.json the hub encrypts deliveries by); crlGraceHours: default 24",
  log: "checkpoint: a signed checkpoint every everyEntries entries or everyMs ms; origin: the log's name in checkpoints; store: { kind: sqlite } (in dataDir) or { kind: postgres, url, … } (see the README's Running on several machines)",
  standesaemter: "the Standesämter the hub knows (header data of the XÖV messages written on their behalf); each must be covered by a routing rule or the routing default",
  routing: "which Elterngeldstelle and Familienkasse receive a birth: elterngeldstellen and familienkassen list the agencies (DVDV address, name); rules map a Standesamtsnummer prefix (standesamtPrefix, longest wins) or the first parent's postcode (postcodePrefix) to one of each; default catches the rest (absent: nothing). An Elterngeldstelle the parents name wins when it is listed. Unknown addresses, two rules for one prefix and Standesämter no rule covers stop the hub at start; elfe routing show --config FILE prints the table in force",
  meldebehoerden: "which Meldebehörde may send a case's IdNr: rules map a standesamtPrefix (longest wins) to an mbh: address; default for the rest (absent: those cases get no IdNr)",
  delivery: 'maxDeliver: redeliveries before a dead letter (default 5); ackWaitMs: time for one delivery (default 30000); the agencies\' configurations carry the same',
  ingress: 'maxBytes: largest submission (default 262144); clockSkewSeconds: dates later than now plus this are refused (default 300)',
  witnesses: 'witnesses that cosign every checkpoint: [{ url, verifierKey }] (elfe init witness prints the entry)',
  keys: 'caseKeyFile: the case key store (default <dataDir>/keys/cases.sqlite)',
  retention: 'a case is erased afterLastHandoffDays days after its last hand-off (default 730), checked every checkEveryMs',
  metrics: 'port: Prometheus metrics on 127.0.0.1:<port>/metrics (absent: off)',
  api: "port, host: the HTTP API and dashboard (mutual TLS; its TLS identity in <dataDir>/api/; absent: off); maxConnectionsPerCertificate (default 16)",
  escalation: 'deadlines of a hand-off: acknowledgeWithinMs, escalateAfterMs, per-recipient overrides, webhooks per responsible party, reconcileEveryMs; decision: per agency kind (elterngeldstelle, familienkasse) { decideWithinMs, escalateAfterMs } after the receipt until the agency reports bewilligt or abgelehnt (default Elterngeldstelle 42 and 84 days, Familienkasse 28 and 56 days)',
};

/** Sets up one party's directory; never overwrites a key or a configuration. */
export async function initParty(options: InitOptions): Promise<InitResult> {
  const role = options.role;
  const dir = path.resolve(options.dir);
  const configFile = path.join(dir, 'config.json');
  if (existsSync(configFile)) throw new InitError('exists', `${configFile} exists: elfe init never overwrites a party; use a new --dir`);

  if (role === 'witness') return initWitness(options, dir, configFile);

  const caCert = path.resolve(required(options.caCert, '--ca-cert FILE (the exchange CA\'s certificate, ca.cert.pem)', role));
  const caDir = shown(path.dirname(caCert));
  const crl = path.resolve(options.crl ?? path.join(path.dirname(caCert), 'crl.pem'));
  const notes: string[] = [];
  if (!existsSync(caCert)) notes.push(`${shown(caCert)} does not exist yet: put the CA's certificate there before the party starts`);
  const trust = { caCertFile: relativeTo(dir, caCert), crlFile: relativeTo(dir, crl) };
  const fromCaPublic = [
    { what: `ca.cert.pem (the CA's certificate)`, to: shown(caCert) },
    { what: 'crl.pem (the CA\'s revocation list, and every new one)', to: shown(crl) },
  ];

  if (role === 'hub') return initHub(options, dir, configFile, { caCert, caDir, crl, trust, notes, fromCaPublic });

  const hubText = required(options.hub, '--hub nats://HOST:PORT (the hub\'s NATS)', role);
  const nats = natsUrlOf(hubText);

  if (role === 'nats-node') {
    const serverNames = options.serverNames && options.serverNames.length > 0 ? [...options.serverNames] : isLoopback(nats.host) ? [...loopbackNames] : [nats.host];
    const name = options.name ?? `nats-server ${path.basename(dir)}`;
    await createRequest(dir, { tlsServer: true, name, serverNames });
    writeConfig(configFile, {
      '//': {
        role: 'a NATS node of the exchange: a TLS server with a node certificate of the CA, the only certificates that may form cluster routes',
        serverNames: "the node's route and client names, as in its certificate",
        client: 'where parties and hubs connect to this node (nats.url in their configurations)',
        run: "elfe cluster nats --dir <parent of this directory> --ca CA_DIR writes <dir>/nats-server.conf (TLS, verify_and_map, the per-certificate users and permissions, the TLS-verified routes) and runs the nodes; on separate machines that file is the node's template",
      },
      role: 'nats-node',
      name,
      serverNames,
      client: nats.url,
      tls: { certFile: 'cert.pem', keyFile: 'key.pem' },
      trust,
    });
    return {
      role,
      dir,
      configFile,
      keys: [path.join(dir, 'key.pem')],
      toCa: [path.join(dir, 'request.csr')],
      fromCa: [{ what: 'cert.pem (the node certificate)', to: shown(path.join(dir, 'cert.pem')) }, ...fromCaPublic],
      caCommands: [command(['elfe', 'pki', 'sign', shown(path.join(dir, 'request.csr')), '--dir', caDir, '--out', shown(path.join(dir, 'cert.pem')), '--nats-node', '--yes'])],
      run: [command(['elfe', 'cluster', 'nats', '--dir', shown(path.dirname(dir)), '--ca', caDir])],
      notes,
    };
  }

  const partyRole: Role = role;
  const dvdv = required(options.dvdv, '--dvdv ADDRESS (the party\'s DVDV address, e.g. egs:11000000)', role);
  const name = required(options.name, '--name NAME (the party\'s display name)', role);
  const mismatch = roleAddressMismatch(partyRole, dvdv);
  if (mismatch) throw new InitError('invalid-input', mismatch);
  const request: RequestOptions = { role: partyRole, dvdv, name };
  await createRequest(dir, request);

  let config: Record<string, unknown>;
  let run: string[];
  if (role === 'auditor' || role === 'cockpit') {
    const api = options.api ?? `https://${nats.host.includes(':') ? `[${nats.host}]` : nats.host}:8443`;
    config = {
      '//': {
        role: role === 'cockpit' ? 'the Datenschutzcockpit: asks the hub\'s API which bodies received data about a person (POST /api/v1/transparency); nothing on NATS' : 'an auditor: reads the hub\'s API and dashboard (everything, no personal data); nothing on NATS',
        dir: 'key.pem (0600) and cert.pem: the client certificate for the API (mutual TLS)',
        api: "url: the hub's API and dashboard",
        trust: "caCertFile: the exchange CA's certificate, which also signs the API's server certificate",
      },
      role,
      dvdv,
      name,
      dir: '.',
      api: { url: api },
      trust,
    };
    run = [`curl --cert ${shellWord(shown(path.join(dir, 'cert.pem')))} --key ${shellWord(shown(path.join(dir, 'key.pem')))} --cacert ${shellWord(shown(caCert))} ${api}/`];
  } else {
    const full = PartyConfigSchema.parse(partyConfigOf(partyRole, dvdv, name, { natsUrl: nats.url, trust }));
    const comments = partyComments(partyRole);
    config = { '//': Object.fromEntries(Object.keys(full).filter((k) => comments[k]).map((k) => [k, comments[k]!])), ...full };
    const cfg = shown(configFile);
    run =
      role === 'elterngeldstelle'
        ? [command(['elfe', 'connector', 'elterngeld', '--config', cfg])]
        : role === 'familienkasse'
          ? [command(['elfe', 'connector', 'familienkasse', '--config', cfg])]
          : role === 'standesamt'
            ? [command(['elfe', 'standesamt', 'watch', shown(path.join(dir, 'watch')), '--config', cfg]), command(['elfe', 'standesamt', 'submit', '081020.xml', '--with', '081021.xml', '--register', 'KEY', '--config', cfg])]
            : [command(['elfe', 'meldebehoerde', 'idnr', '--register', 'KEY', '--child', 'IDNR', '--parent', 'IDNR', '--config', cfg])];
  }
  writeConfig(configFile, config);
  if (role === 'standesamt') mkdirSync(path.join(dir, 'watch'), { recursive: true, mode: 0o700 });
  return {
    role,
    dir,
    configFile,
    keys: [path.join(dir, 'key.pem')],
    toCa: [path.join(dir, 'request.csr')],
    fromCa: [{ what: 'cert.pem (its certificate)', to: shown(path.join(dir, 'cert.pem')) }, ...fromCaPublic],
    caCommands: caLines(caDir, dir, request, false),
    run,
    notes,
  };
}

async function initHub(
  options: InitOptions,
  dir: string,
  configFile: string,
  ca: { caCert: string; caDir: string; crl: string; trust: { caCertFile: string; crlFile: string }; notes: string[]; fromCaPublic: InitResult['fromCa'] },
): Promise<InitResult> {
  const nats = natsUrlOf(required(options.hub, '--hub nats://HOST:PORT (where the hub\'s own nats-server listens, or an external NATS with --external-nats)', 'hub'));
  const serverNames = options.serverNames && options.serverNames.length > 0 ? [...options.serverNames] : isLoopback(nats.host) ? [...loopbackNames] : [nats.host];
  for (const n of serverNames) if (!isIP(n) && !/^[a-z0-9.-]+$/i.test(n)) throw new InitError('invalid-input', `--server-name ${n}: not a host name or IP address`);
  const external = options.externalNats === true;
  const identities = hubIdentities(serverNames, { natsServer: !external });
  const issued = path.resolve(options.issued ?? path.join(path.dirname(ca.caCert), 'issued'));
  for (const identity of identities) await createRequest(path.join(dir, identity.subdir), identity.request);
  const apiPort = options.apiPort ?? 8443;
  const full = parseConfig({
    dataDir: '.',
    nats: external ? { url: nats.url, serverDir: 'nats-server' } : { port: nats.port, serverDir: 'nats-server' },
    trust: { ...ca.trust, issuedDir: relativeTo(dir, issued) },
    api: { port: apiPort },
  });
  const problems = routingProblems(full).filter((p) => p.level === 'warning');
  writeConfig(configFile, { '//': hubComments, ...full, '// routing problems': problems.length > 0 ? problems.map((p) => `${p.path}: ${p.message}`) : undefined });
  const pairs = identities.map((i) => ({ identity: i, dir: path.join(dir, i.subdir) }));
  return {
    role: 'hub',
    dir,
    configFile,
    keys: pairs.map((p) => path.join(p.dir, 'key.pem')),
    toCa: pairs.map((p) => path.join(p.dir, 'request.csr')),
    fromCa: [...pairs.map((p) => ({ what: `cert.pem (${p.identity.purpose})`, to: shown(path.join(p.dir, 'cert.pem')) })), ...ca.fromCaPublic, { what: "issued/ (the CA's issued certificates and holders.json, and every update)", to: shown(issued) }],
    caCommands: pairs.flatMap((p) => caLines(ca.caDir, p.dir, p.identity.request, p.identity.hubIdentity)),
    run: [command(['elfe', 'hub', 'start', '--config', shown(configFile)]), command(['elfe', 'routing', 'show', '--config', shown(configFile)])],
    notes: [
      ...ca.notes,
      ...(external ? [] : [`the hub runs its own nats-server on 127.0.0.1:${nats.port} (its TLS identity in ${shown(path.join(dir, 'nats-server'))}/)`]),
      `the API and dashboard on https://127.0.0.1:${apiPort}/ (an auditor's client certificate: elfe init auditor)`,
      'routing, the Standesämter and the responsible Meldebehörden are the defaults in config.json: edit them for your offices, then check with elfe routing show',
    ],
  };
}

function initWitness(options: InitOptions, dir: string, configFile: string): InitResult {
  const name = options.name ?? 'witness.example/w1';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, 'witness.key');
  let key;
  try {
    key = createWitnessKey(keyFile, name);
  } catch (error) {
    if (error instanceof WitnessKeyError) throw new InitError(error.code === 'exists' ? 'exists' : 'invalid-input', error.message);
    throw error;
  }
  const port = options.port ?? 7380;
  writeConfig(configFile, {
    '//': {
      role: 'a witness (C2SP tlog-witness), run by someone other than the hub operator: it cosigns the hub\'s checkpoints after checking consistency; no certificate of the CA',
      key: 'the witness\'s Ed25519 key (0600, never leaves this directory)',
      verifierKey: "this witness's verifier key: the hub operator adds { url, verifierKey } to the hub's witnesses",
      log: "the hub's verifier key (elfe keys show, or the hub start's `hub verifier key:` line)",
      port: 'where POST /add-checkpoint listens',
      state: "the witness's state (the last checkpoint it cosigned per log)",
    },
    role: 'witness',
    name,
    key: 'witness.key',
    verifierKey: key.verifierKey,
    log: 'HUB-VERIFIER-KEY',
    host: '127.0.0.1',
    port,
    state: 'state',
  });
  return {
    role: 'witness',
    dir,
    configFile,
    keys: [keyFile],
    toCa: [],
    fromCa: [],
    caCommands: [],
    run: [command(['elfe', 'witness', 'start', '--key', shown(keyFile), '--log', 'HUB-VERIFIER-KEY', '--port', String(port), '--state', shown(path.join(dir, 'state'))])],
    notes: [`nothing goes to the CA; give the hub operator this entry for the hub's "witnesses": { "url": "http://HOST:${port}", "verifierKey": "${key.verifierKey}" }`],
  };
}

/** What the operator reads after `elfe init`. */
function resultLines(r: InitResult): string[] {
  const lines = [`elfe init ${r.role}: ${shown(r.dir)}/`, `  private key${r.keys.length > 1 ? 's' : ''} (0600, never leave this directory): ${r.keys.map(shown).join(', ')}`, `  configuration (every setting with its default, explained under "//"): ${shown(r.configFile)}`];
  if (r.toCa.length > 0) {
    lines.push('carry to the CA:', ...r.toCa.map((f) => `  ${shown(f)}`));
    lines.push('the CA operator runs:', ...r.caCommands.map((c) => `  ${c}`));
    lines.push('carry back from the CA:', ...r.fromCa.map((f) => `  ${f.what} -> ${f.to}`));
  }
  lines.push('then run:', ...r.run.map((c) => `  ${c}`));
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines;
}

const portOption = (text: string | undefined, option: string): number | undefined => {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${option} is a port from 0 to 65535`);
  return port;
};

const init: Command = {
  path: ['init'],
  summary: "set up one party in its own directory: its key (0600), its certificate request(s) and a complete, commented config.json; prints what goes to the CA and back",
  usage: `elfe init ROLE --dir DIR --hub nats://HOST:PORT --ca-cert FILE [--crl FILE] [--dvdv ADDRESS --name NAME] [--server-name HOST ...] [--api-port 8443] [--external-nats] [--issued DIR] [--api URL] [--port P] [--json]
  ROLE: ${initRoles.join(', ')}
  example: elfe init elterngeldstelle --dir egs --hub nats://hub.example:4222 --ca-cert ca.cert.pem --dvdv egs:11000000 --name "Elterngeldstelle Berlin"`,
  run: (args, io: Io) =>
    reportingErrors(
      io,
      async () => {
        const { values, positionals } = parseCommandArgs(args, {
          dir: { type: 'string' },
          hub: { type: 'string' },
          'ca-cert': { type: 'string' },
          crl: { type: 'string' },
          issued: { type: 'string' },
          dvdv: { type: 'string' },
          name: { type: 'string' },
          'server-name': { type: 'string', multiple: true },
          'api-port': { type: 'string' },
          'external-nats': { type: 'boolean' },
          api: { type: 'string' },
          port: { type: 'string' },
          json: { type: 'boolean' },
        });
        const [word, ...extra] = positionals;
        if (!word || extra.length > 0) throw new UsageError(`elfe init expects one ROLE: ${initRoles.join(', ')}`);
        const role = (initRoles as readonly string[]).includes(word) ? (word as InitRole) : aliases[word];
        if (!role) throw new UsageError(`unknown role ${word}; one of ${initRoles.join(', ')}`);
        if (!values.dir) throw new UsageError('--dir DIR is required (the party\'s own directory)');
        const apiPort = portOption(values['api-port'], '--api-port');
        const port = portOption(values.port, '--port');
        const result = await initParty({
          role,
          dir: values.dir,
          ...(values.hub !== undefined ? { hub: values.hub } : {}),
          ...(values['ca-cert'] !== undefined ? { caCert: values['ca-cert'] } : {}),
          ...(values.crl !== undefined ? { crl: values.crl } : {}),
          ...(values.issued !== undefined ? { issued: values.issued } : {}),
          ...(values.dvdv !== undefined ? { dvdv: values.dvdv } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values['server-name'] ? { serverNames: values['server-name'] } : {}),
          ...(apiPort !== undefined ? { apiPort } : {}),
          ...(values['external-nats'] ? { externalNats: true } : {}),
          ...(values.api !== undefined ? { api: values.api } : {}),
          ...(port !== undefined ? { port } : {}),
        });
        if (values.json) io.out(JSON.stringify(result));
        else for (const line of resultLines(result)) io.out(line);
        return exitCode.ok;
      },
      true,
    ),
};

/** The tables' addresses against the CA's published holders (when the hub's trust files are there to read). */
function certificateCheck(config: HubConfig): RoutingProblem[] {
  if (!existsSync(config.trust.caCertFile)) return [{ level: 'warning', path: 'trust.caCertFile', message: `${config.trust.caCertFile} does not exist: the addresses were not checked against the CA's certificates` }];
  const holders = readHolders(config.trust.issuedDir, readFileSync(config.trust.caCertFile, 'utf8'));
  if ('error' in holders) return [{ level: 'warning', path: 'trust.issuedDir', message: `${holders.error}: the addresses were not checked against the CA's certificates` }];
  return certificateProblems(config, holders.holders);
}

const routingShow: Command = {
  path: ['routing', 'show'],
  summary: "print the routing in force: for each Standesamt the Elterngeldstelle, Familienkasse and Meldebehörde its births go to, the rules, and the table's problems",
  usage: 'elfe routing show --config HUB-CONFIG [--json]\n  also checks the addresses against the CA\'s issued/holders.json (trust.issuedDir)\n  example: elfe routing show --config hub/config.json',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { config: { type: 'string' }, json: { type: 'boolean' } });
      if (!values.config) throw new UsageError('--config HUB-CONFIG is required (the hub\'s config.json)');
      const config = loadConfig(values.config);
      const certificates = certificateCheck(config);
      if (values.json) {
        io.out(JSON.stringify({ standesaemter: routesInForce(config), routing: config.routing, meldebehoerden: config.meldebehoerden, problems: [...routingProblems(config), ...certificates] }));
      } else for (const line of routingLines(config, values.config, certificates)) io.out(line);
      return exitCode.ok;
    }),
};

export const initCommands: readonly Command[] = [init, routingShow];
