// A whole exchange as the operator runs it, for the attack suite: `elfe exchange init` lays
// out the CA and every party, `elfe hub start` runs the hub (with its own nats-server, TLS and
// one user per certificate), agency connectors run as their own processes. The tests act as
// parties holding valid certificates of the exchange: TLS connections with a party's own
// key and certificate, signatures with that key. The log is read read-only while the hub runs.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import {
  certificateFacts,
  certificateSigner,
  submitSubject,
  submitSubjectOf,
  SubmissionReplySchema,
  type BirthRegisteredData,
  type Role,
  type Signer,
  type SubmissionReply,
} from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { loadCredentials } from '../../connectors/kit/credentials.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { CaseKeyStore, caseKeyFile } from '../../hub/src/log/caseKeys.ts';
import { isSealed, openEntry } from '../../hub/src/log/caseLog.ts';
import type { StoredEvent } from '../../hub/src/log/eventStore.ts';
import { permissionsFor } from '../../hub/src/pki/natsConfig.ts';
import { runExchange } from '../../hub/src/runner/exchangeRunner.ts';
import type { PartyProcess } from '../../hub/src/runner/partyProcess.ts';

/** One party of the provisioned exchange, as the test (acting as it) sees it. */
export interface LiveParty {
  readonly name: string;
  readonly dir: string;
  readonly configFile: string;
  readonly role: Role;
  readonly dvdv: string;
  readonly serial: string;
  readonly signer: Signer;
  readonly tls: { caFile: string; certFile: string; keyFile: string };
  /** The inbox prefix this party may subscribe under (from its NATS permissions). */
  readonly inboxPrefix: string;
}

/** One row of the hub's log. */
export interface LogRow {
  readonly position: number;
  readonly stream: string;
  readonly eventId: string;
  readonly type: string;
  /** The stored event JSON, as stored. */
  readonly json: string;
  readonly event: { messageId: string; type: string; producer?: { dvdv: string; name: string; role: string }; data: Record<string, unknown> };
}

/**
 * The prefix under which a party may receive replies: the one `_INBOX…` entry of its
 * subscribe permissions, without the trailing `.>`. `_INBOX` while every party shares the
 * inbox namespace; a party's own prefix once each party has its own.
 */
export function ownInboxPrefix(role: Role, dvdv: string): string {
  const permissions = permissionsFor(role, dvdv) as unknown;
  if (permissions === 'all') return '_INBOX';
  const subscribe = (permissions as { subscribe?: unknown }).subscribe;
  const list: unknown[] = Array.isArray(subscribe) ? subscribe : Array.isArray((subscribe as { allow?: unknown })?.allow) ? ((subscribe as { allow: unknown[] }).allow) : [];
  const inbox = list.filter((s): s is string => typeof s === 'string' && s.startsWith('_INBOX') && s.endsWith('.>'));
  if (inbox.length !== 1) throw new Error(`cannot tell the inbox prefix of ${role} ${dvdv} from ${JSON.stringify(permissions)}`);
  return inbox[0]!.slice(0, -2);
}

export interface LiveExchange {
  readonly root: string;
  readonly hubDir: string;
  readonly caDir: string;
  readonly natsUrl: string;
  readonly metricsPort: number;
  /** The API's port, when started with `api: true`. */
  readonly apiPort: number | undefined;
  readonly hub: PartyProcess;
  party(name: string): LiveParty;
  /** A TLS connection as `name`, with its own certificate (and its own inbox prefix unless `inboxPrefix` says otherwise). */
  connectAs(name: string, options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  /** Starts (or restarts) an agency's connector process. */
  startConnector(name: string): Promise<PartyProcess>;
  connector(name: string): PartyProcess | undefined;
  /** Every row of the hub's log, read read-only while the hub runs. */
  log(): LogRow[];
  /** Every process started here, stopped with SIGTERM. */
  stop(): Promise<void>;
}

/** `beforeHub` changes the laid-out exchange (e.g. what the CA has issued) before the hub starts. */
export async function startLiveExchange(label: string, options: { beforeHub?: (root: string) => void | Promise<void>; api?: boolean } = {}): Promise<LiveExchange> {
  const running = await runExchange({ label, ...(options.api ? { api: true } : {}), ...(options.beforeHub ? { beforeStart: (layout) => options.beforeHub!(layout.root) } : {}), start: ['hub'] });
  const { root, hubDir, caDir } = running;
  const metricsPort = running.metricsPort!;
  const apiPort = running.apiPort;
  const caFile = path.join(caDir, 'ca.cert.pem');
  const hub = running.process('hub')!;
  currentHubDir = hubDir;
  let keys: CaseKeyStore | undefined;

  const parties = new Map<string, LiveParty>();
  const party = (name: string): LiveParty => {
    const known = parties.get(name);
    if (known) return known;
    const dir = path.join(root, 'parties', name);
    const configFile = path.join(dir, 'config.json');
    if (!existsSync(configFile)) throw new Error(`no party ${name} in ${root}`);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { role: Role; dvdv: string };
    const credentials = loadCredentials(dir);
    const facts = certificateFacts(new X509Certificate(credentials.certificatePem))!;
    const p: LiveParty = {
      name,
      dir,
      configFile,
      role: config.role,
      dvdv: config.dvdv,
      serial: facts.serial,
      signer: certificateSigner(credentials.privateKey, credentials.certificatePem),
      tls: { caFile, certFile: credentials.certFile, keyFile: credentials.keyFile },
      inboxPrefix: ownInboxPrefix(config.role, config.dvdv),
    };
    parties.set(name, p);
    return p;
  };
  const natsUrl = (JSON.parse(readFileSync(party('sta-11007007').configFile, 'utf8')) as { nats: { url: string } }).nats.url;

  const connections: NatsConnection[] = [];
  let db: Database.Database | undefined;

  return {
    root,
    hubDir,
    caDir,
    natsUrl,
    metricsPort,
    apiPort,
    hub,
    party,
    async connectAs(name, options = {}) {
      const p = party(name);
      const nc = await connect({ servers: natsUrl, tls: p.tls, inboxPrefix: p.inboxPrefix, name: `attack-suite-${name}`, ...options });
      connections.push(nc);
      connectionOwner.set(nc, p.dvdv);
      return nc;
    },
    startConnector: (name) => running.start(party(name).name),
    connector: (name) => running.process(name),
    log() {
      db ??= new Database(logFiles(hubDir).events, { readonly: true, fileMustExist: true });
      const rows = db.prepare('SELECT position, stream, stream_revision, event_id, type, data, metadata, recorded_at FROM events ORDER BY position').all() as { position: number; stream: string; stream_revision: number; event_id: string; type: string; data: string; metadata: string; recorded_at: string }[];
      keys ??= new CaseKeyStore(caseKeyFile(hubDir));
      // Birth cases are sealed under their case keys: opened here with the hub's key store, as the hub reads them.
      return rows.map((r) => {
        const data = JSON.parse(r.data) as unknown;
        if (!isSealed(data)) return { position: r.position, stream: r.stream, eventId: r.event_id, type: r.type, json: r.data, event: data as LogRow['event'] };
        const stored: StoredEvent = { position: r.position, stream: r.stream, streamRevision: r.stream_revision, eventId: r.event_id, type: r.type, data: data as never, metadata: JSON.parse(r.metadata), recordedAt: r.recorded_at };
        const key = keys!.keyOf(data.sealed.case);
        const opened = key ? openEntry(stored, key) : undefined;
        return { position: r.position, stream: r.stream, eventId: r.event_id, type: r.type, json: opened ? JSON.stringify(opened.data) : r.data, event: (opened?.data ?? data) as LogRow['event'] };
      });
    },
    async stop() {
      await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
      db?.close();
      db = undefined;
      await keys?.close();
      keys = undefined;
      await running.stop();
    },
  };
}

// ─── submissions ───────────────────────────────────────────────────────────────────────────

const decoder = new TextDecoder();

/** The signed wire form of a submission. */
export const signedBytes = (payload: unknown, signer: Signer): string => JSON.stringify({ payload, signature: signer.sign(payload) });

/** Whose certificate each connection of the suite was opened with. */
const connectionOwner = new WeakMap<NatsConnection, string>();

/** The submit subject a connection may publish on: its own party's (the nats-server allows no other). */
export function submitSubjectFor(nc: NatsConnection): string {
  const dvdv = connectionOwner.get(nc);
  return dvdv ? submitSubjectOf(dvdv) : submitSubject;
}

/**
 * Sends a signed submission over `nc` and returns the hub's parsed answer, without its
 * signature (every answer of the running hub carries one; signatures differ between answers).
 */
export async function submit(nc: NatsConnection, payload: unknown, signer: Signer, timeout = 10_000): Promise<SubmissionReply> {
  const reply = await nc.request(submitSubjectFor(nc), signedBytes(payload, signer), { timeout });
  const { signature, ...answer } = SubmissionReplySchema.parse(JSON.parse(decoder.decode(reply.data)));
  if (!signature) throw new Error('the hub answered without signing its answer');
  return answer as SubmissionReply;
}

export const codeOf = (r: SubmissionReply): string => (r.ok ? 'ok' : r.error.code);

/** An event as produced by `party` (envelope's producer = the signer). */
export const asProducer = <T extends object>(event: T, p: LiveParty): T => ({ ...event, producer: { dvdv: p.dvdv, name: p.signer.identity.name, role: p.role } });

/** A distinctive first name: it must never show up in a security event. */
export const distinctiveFirstName = 'Kunigundis';

/** A fictional birth of `standesamtsnummer`'s register, with a distinctive child's first name. */
export const birthOf = (standesamtsnummer: string, eintragsnummer: string, overrides: Partial<Parameters<typeof sampleBirthRegistration>[0]> = {}): BirthRegisteredData =>
  sampleBirthRegistration({
    registerKey: { standesamtsnummer, registerart: 'G', jahr: 2026, eintragsnummer } as never,
    child: { name: { firstNames: [distinctiveFirstName], familyName: 'Zwetschgenbaum' }, sex: 'w', birth: { date: '2026-11-01', time: '07:45', exact: true }, placeOfBirth: { city: 'Bremen' } } as never,
    ...overrides,
  });

/** The hub directory of the exchange started last (its key store names the case streams). */
let currentHubDir: string | undefined;

/** The log stream of a birth case: the case id is a keyed hash of the register key (the hub's secret in its key store). */
export const caseStream = (b: BirthRegisteredData): string => {
  if (!currentHubDir) throw new Error('no live exchange started');
  const keys = new CaseKeyStore(caseKeyFile(currentHubDir));
  try {
    return `birth-${keys.caseIdOf(b.registerKey)}`;
  } finally {
    void keys.close();
  }
};

export type SecurityData = { code: string; reason: string; subject: Record<string, unknown>; messageType?: string; refusedMessageId?: string };
export const securityRows = (rows: readonly LogRow[]): (LogRow & { security: SecurityData })[] =>
  rows.filter((r) => r.stream === 'security').map((r) => ({ ...r, security: r.event.data as unknown as SecurityData }));

/** A NATS error's text, for asserting a permissions violation. */
export const isPermissionError = (error: unknown): boolean => /permission/i.test(String((error as Error)?.message ?? error)) || (error as Error)?.name === 'PermissionViolationError';
