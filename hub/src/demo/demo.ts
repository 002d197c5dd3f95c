// `elfe demo`: starts everything on embedded defaults, makes N synthetic births, submits
// them as XPersonenstand XML through the Standesamt connector (IdNrs, withdrawals and
// corrections as the Meldebehörde and Standesamt would send them), waits until every
// expected delivery is acknowledged, verifies the log and checks every inbox.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  canonicalHash,
  parseVerifierKey,
  render081020,
  render081021,
  type BirthRegistrationCorrected,
  type ChildIdNrAssigned,
  type DeliveryScheduled,
  type ParentalConsentWithdrawn,
  type Signer,
  type Submission,
} from '../../../contracts/index.ts';
import { certificateSigner } from '../../../contracts/index.ts';
import { deterministicUuid } from '../../../contracts/index.ts';
import { StandesamtConnector } from '../../../connectors/standesamt/src/standesamtConnector.ts';
import { verifyLog, type AuditReport } from '../audit/verifyLog.ts';
import { startHub } from '../app/hub.ts';
import type { LocalNatsServer } from '../infra/nats/natsServer.ts';
import { keysDirOf, parseConfig, pkiDirOf, type HubConfig } from '../config/config.ts';
import { ensureCa, ensurePartyCertificate, readParty } from '../pki/parties.ts';
import { loadOrCreateSigner } from '../keys/keyDirectory.ts';
import { logFiles } from '../log/openHubLog.ts';
import { fromRecord } from '../log/records.ts';
import { openSqliteEventStore } from '../log/sqlite/sqliteEventStore.ts';
import { expectedDeliveries, makeScenarios, type BirthScenario } from './synthetic.ts';

export interface DemoOptions {
  readonly births: number;
  readonly dataDir: string;
  readonly seed?: number;
  readonly timeoutMs?: number;
  readonly config?: Partial<HubConfig>;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
  /** Called after each submission phase while deliveries are in flight (fault tests restart things here). */
  readonly afterPhase?: (phase: string, control: { restartHub(): Promise<void>; natsServer(): LocalNatsServer | undefined }) => Promise<void>;
}

export interface DemoSummary {
  readonly births: number;
  readonly deliveries: { readonly elterngeldstelle: number; readonly familienkasse: number };
  readonly acknowledged: number;
  readonly rejected: number;
  readonly deadLettered: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly birthsPerSecond: number;
  readonly audit: { readonly ok: boolean; readonly entries: number; readonly checkpoints: number; readonly firstBadPosition: number | null; readonly reason: string | null };
  readonly dataDir: string;
  /** Empty when every delivery that should happen happened exactly once and none other. */
  readonly problems: readonly string[];
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

const meldebehoerde = { name: 'meldebehoerde-demo', dvdv: 'mbh:demo', role: 'meldebehoerde' as const };
const staKey = (nummer: string) => `sta-${nummer}`;

function envelope(type: string, messageId: string, producer: { dvdv: string; name: string; role: string }, correlationId: string) {
  return { messageId, type, schemaVersion: 1, occurredAt: new Date().toISOString(), producer, legalBasis: type === 'ChildIdNrAssigned' ? '§ 139b AO; § 17 BMG' : '§ 21 PStG; § 57 Abs. 1 Nr. 8 PStV', purpose: 'Mitteilung an die berechtigten Leistungsbehörden', correlationId };
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const seed = options.seed ?? 20261124;
  const config = parseConfig({ ...options.config, dataDir: options.dataDir });
  const keysDir = keysDirOf(config);
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  // Producers' key pairs first: the hub trusts the key directory as it starts.
  const pki = config.trust.mode === 'pki' ? pkiDirOf(config) : undefined;
  if (pki) ensureCa(pki);
  const producerSigner = (name: string, dvdv: string, role: 'standesamt' | 'meldebehoerde', displayName: string): Signer => {
    if (!pki) return loadOrCreateSigner(keysDir, { name, dvdv, role });
    const party = readParty(ensurePartyCertificate(pki, { name, dvdv, role, displayName }));
    return certificateSigner(party.privateKey, party.certificatePem);
  };
  const producerSigners = new Map<string, Signer>();
  for (const s of config.standesaemter) producerSigners.set(staKey(s.standesamtsnummer), producerSigner(staKey(s.standesamtsnummer), `psw:${s.standesamtsnummer}`, 'standesamt', s.name));
  producerSigners.set(meldebehoerde.name, producerSigner(meldebehoerde.name, meldebehoerde.dvdv, 'meldebehoerde', 'Meldebehörde (Demo)'));

  let hub = await startHub(config);
  const progress = options.onProgress ?? (() => undefined);
  const connections: NatsConnection[] = [];
  const submittedAt = new Map<string, number>();
  const scheduled = new Map<string, DeliveryScheduled>();
  const outcomes = new Map<string, { kind: 'acknowledged' | 'rejected' | 'deadLettered'; at: number }>();
  const problems: string[] = [];
  let firstSubmit = 0;
  let lastAck = 0;

  const scenarios = makeScenarios({ births: options.births, seed, standesaemter: config.standesaemter, firstEntry: 1 + (seed % 1000) * 10_000 });
  const expected = expectedDeliveries(scenarios);

  // Watch the log: what was scheduled, acknowledged, rejected, dead-lettered.
  let seen = 0;
  const follow = (from: number) => {
    const subscription = hub.log.subscribe(from);
    const done = (async () => {
      for await (const stored of subscription) {
        seen = stored.position + 1;
        observe(stored);
      }
    })();
    return { subscription, done };
  };
  const observe = (stored: Parameters<typeof fromRecord>[0]) => {
    {
      const event = fromRecord(stored);
      if (!event) return;
      if (event.type === 'DeliveryScheduled') scheduled.set(event.data.deliveryId, event);
      else if (event.type === 'DeliveryAcknowledged' || event.type === 'DeliveryRejected' || event.type === 'DeliveryDeadLettered') {
        const kind = event.type === 'DeliveryAcknowledged' ? 'acknowledged' : event.type === 'DeliveryRejected' ? 'rejected' : 'deadLettered';
        if (outcomes.has(event.data.deliveryId)) problems.push(`delivery ${event.data.deliveryId} has a second outcome (${kind})`);
        else outcomes.set(event.data.deliveryId, { kind, at: Date.parse(stored.recordedAt) });
        lastAck = Math.max(lastAck, Date.parse(stored.recordedAt));
      }
    }
  };
  let watch = follow(0);
  const control = {
    async restartHub() {
      await watch.subscription.close();
      await hub.stop();
      await watch.done;
      hub = await startHub(config);
      watch = follow(seen);
    },
    natsServer: () => hub.nats,
  };
  const afterPhase = async (phase: string) => options.afterPhase?.(phase, control);

  try {
    const connectorFor = async (keyName: string, file: string) => {
      const nc = await connect({ servers: hub.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...hub.connectOptionsFor(keyName) });
      connections.push(nc);
      return new StandesamtConnector({ nc, signer: producerSigners.get(keyName)!, outboxFile: path.join(options.dataDir, 'connectors', `${file}.outbox.sqlite`), concurrency: 32 });
    };
    mkdirSync(path.join(options.dataDir, 'connectors'), { recursive: true });
    const standesaemter = new Map<string, StandesamtConnector>();
    for (const s of config.standesaemter) standesaemter.set(s.standesamtsnummer, await connectorFor(staKey(s.standesamtsnummer), staKey(s.standesamtsnummer)));
    const melde = await connectorFor(meldebehoerde.name, meldebehoerde.name);
    const all = [...standesaemter.values(), melde];
    const settle = async (phase: string, total: number) => {
      for (;;) {
        await Promise.all(all.map((c) => c.flush()));
        const pending = all.reduce((n, c) => n + c.counts().pending, 0);
        progress(phase, total - pending, total);
        // Phases are days apart in real life: the hub has routed one before the next begins.
        if (pending === 0 && hub.scheduler.stats.position >= (await hub.log.size())) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const submit = (connector: StandesamtConnector, event: Submission) => {
      submittedAt.set(event.messageId, Date.now());
      return connector.submit(event);
    };

    // Phase 1: registrations, as XML through the Standesamt connector.
    firstSubmit = Date.now();
    await Promise.all(
      scenarios.map(async (s) => {
        const connector = standesaemter.get(s.standesamt.standesamtsnummer)!;
        const sta = { dvdv: `psw:${s.standesamt.standesamtsnummer}`, name: s.standesamt.name };
        const portal = { dvdv: 'sap:000000013', name: s.institution, phone: '0800 000000', address: { street: s.registration.child.placeOfBirth.street!, houseNumber: '1', postcode: s.standesamt.address.postcode, city: s.standesamt.address.city } };
        const info = (messageId: string) => ({ messageId, createdAt: new Date().toISOString(), author: portal, reader: sta });
        const notice = render081020(s.registration, { ...info(s.ids.notice), institution: s.institution, zuordnung: s.registration.zuordnungGeburtsanzeige! });
        const supplement = render081021(s.registration, { ...info(s.ids.supplement), zuordnung: s.registration.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
        if (!notice.success || !supplement.success) throw new Error(`synthetic birth ${s.index} could not be written as XML`);
        submittedAt.set(s.ids.registered, Date.now());
        const result = await connector.submitXml({ notice081020: notice.data, supplement081021: supplement.data, registerKey: s.registration.registerKey, messageId: s.ids.registered, occurredAt: new Date().toISOString() });
        if (!result.success) problems.push(`birth ${s.index}: XML refused: ${result.error.code} at ${result.error.path}`);
      }),
    );
    await settle('registrations', scenarios.length);
    await afterPhase('registrations');

    const idnrEvent = (s: BirthScenario): ChildIdNrAssigned => ({
      ...envelope('ChildIdNrAssigned', deterministicUuid('demo-idnr', String(seed), String(s.index)), meldebehoerde, s.ids.registered),
      type: 'ChildIdNrAssigned',
      data: { registerKey: s.registration.registerKey, childIdNr: s.childIdNr, parent1IdNr: s.parent1IdNr },
    }) as ChildIdNrAssigned;
    const sta = (s: BirthScenario) => ({ dvdv: `psw:${s.standesamt.standesamtsnummer}`, name: s.standesamt.name, role: 'standesamt' });

    // Phase 2: IdNrs from the Meldebehörde, days later in real life.
    const early = scenarios.filter((s) => s.idnr === 'early');
    await Promise.all(early.map((s) => submit(melde, idnrEvent(s))));
    await settle('IdNrs', early.length);
    await afterPhase('IdNrs');

    // Phase 3: withdrawals, then corrections (each case in that order).
    const later = scenarios.filter((s) => s.withdrawal || s.correction);
    await Promise.all(
      later.map(async (s) => {
        const connector = standesaemter.get(s.standesamt.standesamtsnummer)!;
        if (s.withdrawal) {
          const w = { ...envelope('ParentalConsentWithdrawn', deterministicUuid('demo-withdrawal', String(seed), String(s.index)), sta(s), s.ids.registered), type: 'ParentalConsentWithdrawn', data: { registerKey: s.registration.registerKey, withdrawnAt: new Date().toISOString(), recipientRole: 'elterngeldstelle' } } as ParentalConsentWithdrawn;
          await submit(connector, w);
        }
        if (s.correction) {
          const c = { ...envelope('BirthRegistrationCorrected', deterministicUuid('demo-correction', String(seed), String(s.index)), sta(s), s.ids.registered), type: 'BirthRegistrationCorrected', data: { registerKey: s.registration.registerKey, registration: s.correction, reason: 'Berichtigung des Vornamens (§ 47 PStG)' } } as BirthRegistrationCorrected;
          await submit(connector, c);
        }
      }),
    );
    await settle('withdrawals and corrections', later.length);
    await afterPhase('withdrawals and corrections');

    // Phase 4: IdNrs that arrive late.
    const late = scenarios.filter((s) => s.idnr === 'late');
    await Promise.all(late.map((s) => submit(melde, idnrEvent(s))));
    await settle('late IdNrs', late.length);

    // Wait until every expected delivery has an outcome (and nothing more is scheduled).
    const deadline = Date.now() + (options.timeoutMs ?? 120_000 + options.births * 100);
    while (Date.now() < deadline) {
      progress('deliveries', outcomes.size, expected.length);
      if (outcomes.size >= expected.length && outcomes.size >= scheduled.size) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    progress('deliveries', outcomes.size, expected.length);
    for (const c of all) await c.close();
  } finally {
    for (const nc of connections) await nc.close();
    await watch.subscription.close();
    await hub.stop();
    await watch.done;
  }

  // Exactly the expected deliveries, each once, each acknowledged, each in its inbox once.
  const firstEntry = 1 + (seed % 1000) * 10_000;
  const key = (birth: number, role: string, kind: string) => `${birth}/${role}/${kind}`;
  const want = new Map<string, number>();
  for (const e of expected) want.set(key(e.birth, e.role, e.kind), (want.get(key(e.birth, e.role, e.kind)) ?? 0) + 1);
  const got = new Map<string, number>();
  for (const d of scheduled.values()) {
    const k = key(Number(d.data.registerKey.eintragsnummer) - firstEntry, d.data.recipient.role, d.data.kind);
    got.set(k, (got.get(k) ?? 0) + 1);
  }
  for (const [k, n] of want) if (got.get(k) !== n) problems.push(`expected ${n} delivery ${k}, scheduled ${got.get(k) ?? 0}`);
  for (const [k, n] of got) if (!want.has(k)) problems.push(`unexpected delivery ${k} (×${n})`);
  for (const d of scheduled.values()) {
    const outcome = outcomes.get(d.data.deliveryId);
    if (outcome?.kind !== 'acknowledged') problems.push(`delivery ${d.data.deliveryId} ${outcome?.kind ?? 'has no receipt'}`);
    if (pki ? !d.data.payloadJwe || d.data.payload : canonicalHash(d.data.payload) !== d.data.payloadHash) problems.push(`delivery ${d.data.deliveryId} carries a wrong payload hash`);
  }
  for (const agency of [...config.routing.elterngeldstellen, ...config.routing.familienkassen]) {
    const inbox = hub.inboxOf(agency.dvdv);
    const files = existsSync(inbox) ? readdirSync(inbox).filter((f) => !f.startsWith('.')) : [];
    const mine = [...scheduled.values()].filter((d) => d.data.recipient.dvdv === agency.dvdv).map((d) => d.data.deliveryId);
    const names = new Set(files.map((f) => f.replace(/\.(xml|json)$/, '')));
    if (files.length !== mine.length || mine.some((id) => !names.has(id))) problems.push(`inbox of ${agency.dvdv} holds ${files.length} files for ${mine.length} deliveries`);
  }

  const store = openSqliteEventStore(logFiles(options.dataDir).events);
  let audit: AuditReport;
  try {
    const verifier = parseVerifierKey(hub.log.verifierKey);
    if (!verifier.success) throw verifier.error;
    audit = await verifyLog(store, verifier.data, { treeFile: logFiles(options.dataDir).tree });
  } finally {
    await store.close();
  }
  if (!audit.ok) problems.push(`audit: ${audit.reason}`);

  const latencies = [...scheduled.values()].flatMap((d) => {
    const outcome = outcomes.get(d.data.deliveryId);
    const sent = submittedAt.get(d.causationId ?? '');
    return outcome && sent ? [outcome.at - sent] : [];
  });
  const count = (role: string) => [...scheduled.values()].filter((d) => d.data.recipient.role === role).length;
  const values = [...outcomes.values()];
  return {
    births: options.births,
    deliveries: { elterngeldstelle: count('elterngeldstelle'), familienkasse: count('familienkasse') },
    acknowledged: values.filter((o) => o.kind === 'acknowledged').length,
    rejected: values.filter((o) => o.kind === 'rejected').length,
    deadLettered: values.filter((o) => o.kind === 'deadLettered').length,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    birthsPerSecond: options.births / Math.max(0.001, (lastAck - firstSubmit) / 1000),
    audit: { ok: audit.ok, entries: audit.entries, checkpoints: audit.checkpoints, firstBadPosition: audit.firstBadPosition, reason: audit.reason },
    dataDir: options.dataDir,
    problems,
  };
}
