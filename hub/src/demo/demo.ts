// `elfe demo`: the exchange as it is deployed, on one machine. Every party gets its own
// directory, key and certificate (from a CSR); the hub and each agency's connector run as
// their own processes; the Standesämter and the Meldebehörde submit N synthetic births as
// XPersonenstand XML, IdNrs, withdrawals and corrections, each with its own key. The demo
// reports what the log recorded; whether that is right is the tests' judgement.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createPublicKey } from 'node:crypto';
import { deterministicUuid, parseVerifierKey, render081020, render081021, verifierKey, type Submission } from '../../../contracts/index.ts';
import { loadPartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { openSubmitter, type Submitter } from '../../../connectors/standesamt/src/main.ts';
import { correctionOf, idNrAssignmentOf, registrationOf, withdrawalOf } from '../../../connectors/standesamt/src/messages.ts';
import { verifyLog, type AuditReport } from '../audit/verifyLog.ts';
import { SignatureAudit } from '../audit/verifySignatures.ts';
import { dashboardLine, enrolAuditor, provisionExchange, type ProvisionOptions } from '../app/exchange.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { runExchange, type RunningExchange } from '../runner/exchangeRunner.ts';
import { parseConfig } from '../config/config.ts';
import { freePort } from '../infra/nats/natsServer.ts';
import { readPrivateKey } from '../keys/keyDirectory.ts';
import { logFiles } from '../log/openHubLog.ts';
import { fromRecord } from '../log/records.ts';
import { openSqliteEventStore } from '../log/sqlite/sqliteEventStore.ts';
import { openCaseLog } from '../log/caseLog.ts';
import { makeScenarios, expectedDeliveries, type BirthScenario } from './synthetic.ts';

export interface DemoOptions {
  readonly births: number;
  readonly dataDir: string;
  readonly seed?: number;
  readonly timeoutMs?: number;
  /** Hub configuration beyond the layout (routing, delivery limits, log policy). */
  readonly config?: ProvisionOptions['hub'];
  readonly onProgress?: (phase: string, done: number, total: number) => void;
  readonly log?: (line: string) => void;
  /** Keep the exchange (hub and connectors) running after the births until SIGINT/SIGTERM (or until `stopped` resolves). */
  readonly keep?: boolean | { readonly stopped: Promise<unknown> };
}

export interface DemoSummary {
  readonly births: number;
  readonly deliveries: { readonly elterngeldstelle: number; readonly familienkasse: number };
  readonly acknowledged: number;
  readonly rejected: number;
  readonly deadLettered: number;
  /** Scheduled deliveries without a final answer when the demo stopped waiting. */
  readonly unanswered: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly birthsPerSecond: number;
  readonly audit: { readonly ok: boolean; readonly entries: number; readonly checkpoints: number; readonly firstBadPosition: number | null; readonly reason: string | null };
  readonly dataDir: string;
  readonly layout: { readonly ca: string; readonly hub: string; readonly parties: readonly string[] };
  /** Deliveries by recipient role and kind, as the log recorded them. */
  readonly byKind: { readonly elterngeldstelle: KindCounts; readonly familienkasse: KindCounts };
  /** What the synthetic births were made of, and the deliveries that follows from it: the words of the final report. */
  readonly scenario: {
    readonly standesaemter: number;
    readonly withConsent: number;
    readonly withoutConsent: number;
    readonly idnr: { readonly early: number; readonly late: number; readonly never: number };
    readonly withdrawals: number;
    readonly corrections: number;
    /** Corrections of births whose consent was withdrawn first: the Elterngeldstelle does not get them. */
    readonly correctionsAfterWithdrawal: number;
    readonly expected: { readonly elterngeldstelle: KindCounts; readonly familienkasse: KindCounts };
  };
}

export interface KindCounts {
  readonly initial: number;
  readonly correction: number;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

/** Reads the hub's Prometheus metrics into name{labels} → value. */
async function readMetrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const seed = options.seed ?? 20261124;
  const say = options.log ?? (() => undefined);
  const progress = options.onProgress ?? (() => undefined);
  const hubConfig = parseConfig({ ...options.config });
  const natsPort = await freePort();
  const metricsPort = await freePort();
  const exchange = await provisionExchange(options.dataDir, { natsPort, metricsPort, apiPort: await freePort(), ...(options.config ? { hub: options.config } : {}) });
  // The dashboard, opened with an auditor's client certificate (mutual TLS).
  const auditor = await enrolAuditor(exchange, 'aud-demo');
  const agencies = exchange.parties.filter((p) => p.role === 'elterngeldstelle' || p.role === 'familienkasse');
  // The hub first, the agencies once it is ready: nobody retries against a NATS that is not there yet.
  let running: RunningExchange | undefined;
  const submittedAt = new Map<string, number>();
  const submitters = new Map<string, Submitter>();
  let firstSubmit = 0;
  const startedAt = Date.now();
  // Quiet while it starts; said once when it takes long.
  const slow = setTimeout(() => say(`still starting the hub and ${agencies.length} agencies after ${Math.round((Date.now() - startedAt) / 1000)} s (a first start compiles and creates the streams) …`), 10_000);
  try {
    try {
      // The Standesämter and the Meldebehörde submit from this process.
      running = await runExchange({ layout: exchange, start: ['hub', ...agencies.map((p) => p.name)], log: (name, line) => say(`[${name}] ${line}`), restart: {}, exitWithParent: true });
    } finally {
      clearTimeout(slow);
    }
    if (exchange.apiPort !== undefined) say(dashboardLine(exchange.apiPort, auditor));
    for (const p of exchange.parties.filter((p) => p.role === 'standesamt' || p.role === 'meldebehoerde')) {
      submitters.set(p.dvdv, await openSubmitter(loadPartyConfig(p.configFile), say, { concurrency: 32 }));
    }
    const melde = [...submitters.values()].find((s) => s.trust.identity.role === 'meldebehoerde')!;
    const standesamtOf = (s: BirthScenario) => submitters.get(`psw:${s.standesamt.standesamtsnummer}`)!;
    const all = [...submitters.values()];
    const submit = (submitter: Submitter, event: Submission) => {
      submittedAt.set(event.messageId, Date.now());
      return submitter.connector.submit(event);
    };
    // Phases are days apart in real life: the hub has routed one before the next begins.
    const settle = async (phase: string, total: number) => {
      for (;;) {
        await Promise.all(all.map((s) => s.connector.flush()));
        const pending = all.reduce((n, s) => n + s.connector.counts().pending, 0);
        progress(phase, total - pending, total);
        if (pending === 0) {
          const m = await readMetrics(metricsPort);
          if ((m.get('elfe_scheduler_position') ?? 0) >= (m.get('elfe_log_entries') ?? 1)) return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const scenarios = makeScenarios({ births: options.births, seed, standesaemter: hubConfig.standesaemter, firstEntry: 1 + (seed % 1000) * 10_000 });
    firstSubmit = Date.now();
    await Promise.all(
      scenarios.map(async (s) => {
        const sta = { dvdv: `psw:${s.standesamt.standesamtsnummer}`, name: s.standesamt.name };
        const portal = { dvdv: 'sap:000000013', name: s.institution, phone: '0800 000000', address: { street: s.registration.child.placeOfBirth.street!, houseNumber: '1', postcode: s.standesamt.address.postcode, city: s.standesamt.address.city } };
        const info = (messageId: string) => ({ messageId, createdAt: new Date().toISOString(), author: portal, reader: sta });
        const notice = render081020(s.registration, { ...info(s.ids.notice), institution: s.institution, zuordnung: s.registration.zuordnungGeburtsanzeige! });
        const supplement = render081021(s.registration, { ...info(s.ids.supplement), zuordnung: s.registration.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
        if (!notice.success || !supplement.success) throw new Error(`synthetic birth ${s.index} could not be written as XML`);
        submittedAt.set(s.ids.registered, Date.now());
        const submitter = standesamtOf(s);
        const event = registrationOf(submitter.trust.identity, { notice081020: notice.data, supplement081021: supplement.data, registerKey: s.registration.registerKey }, { messageId: s.ids.registered });
        if (!event.success) {
          say(`birth ${s.index}: XML refused: ${event.error.code} at ${event.error.path}`);
          return;
        }
        const result = await submitter.connector.submit(event.data);
        if (!result.success) say(`birth ${s.index}: refused: ${result.error.code}`);
      }),
    );
    await settle('registrations', scenarios.length);

    const idnr = (s: BirthScenario) => idNrAssignmentOf(melde.trust.identity, { registerKey: s.registration.registerKey, childIdNr: s.childIdNr, ...(s.parent1IdNr ? { parent1IdNr: s.parent1IdNr } : {}) }, { messageId: deterministicUuid('demo-idnr', String(seed), String(s.index)) });
    const early = scenarios.filter((s) => s.idnr === 'early');
    await Promise.all(early.map((s) => submit(melde, idnr(s))));
    await settle('IdNrs', early.length);

    const later = scenarios.filter((s) => s.withdrawal || s.correction);
    await Promise.all(
      later.map(async (s) => {
        const sta = standesamtOf(s);
        if (s.withdrawal) await submit(sta, withdrawalOf(sta.trust.identity, s.registration.registerKey, new Date().toISOString(), { messageId: deterministicUuid('demo-withdrawal', String(seed), String(s.index)) }));
        if (s.correction) {
          const info = { messageId: deterministicUuid('demo-correction-xml', String(seed), String(s.index)), createdAt: new Date().toISOString(), author: { dvdv: 'sap:000000013', name: s.institution, phone: '0800 000000', address: { postcode: s.standesamt.address.postcode, city: s.standesamt.address.city } }, reader: { dvdv: sta.trust.identity.dvdv, name: s.standesamt.name } };
          const notice = render081020(s.correction, { ...info, institution: s.institution, zuordnung: s.correction.zuordnungGeburtsanzeige! });
          const supplement = render081021(s.correction, { ...info, zuordnung: s.correction.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
          if (!notice.success || !supplement.success) throw new Error(`correction of birth ${s.index} could not be written as XML`);
          const correction = correctionOf(sta.trust.identity, { notice081020: notice.data, supplement081021: supplement.data, registerKey: s.registration.registerKey, reason: 'Berichtigung des Vornamens (§ 47 PStG)' }, { messageId: deterministicUuid('demo-correction', String(seed), String(s.index)) });
          if (!correction.success) throw new Error(`correction of birth ${s.index}: ${correction.error.code}`);
          await submit(sta, correction.data);
        }
      }),
    );
    await settle('withdrawals and corrections', later.length);

    const late = scenarios.filter((s) => s.idnr === 'late');
    await Promise.all(late.map((s) => submit(melde, idnr(s))));
    await settle('late IdNrs', late.length);

    // Wait until every scheduled delivery has a final answer (receipt or dead letter).
    const expected = expectedDeliveries(scenarios).length;
    const deadline = Date.now() + (options.timeoutMs ?? 120_000 + options.births * 100);
    while (Date.now() < deadline) {
      const m = await readMetrics(metricsPort);
      const answered = ['acknowledged', 'rejected', 'deadLettered'].reduce((n, o) => n + (m.get(`elfe_receipts_total{outcome="${o}"}`) ?? 0), 0);
      const scheduled = m.get('elfe_deliveries_total{outcome="scheduled"}') ?? 0;
      progress('deliveries', answered, Math.max(expected, scheduled));
      if (scheduled >= expected && answered >= scheduled) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (options.keep) {
      say(`births done; the exchange keeps running${exchange.apiPort !== undefined ? ` (${dashboardLine(exchange.apiPort, auditor)})` : ''} until SIGINT or SIGTERM`);
      await (typeof options.keep === 'object' ? options.keep.stopped : untilStopped());
    }
  } finally {
    for (const s of submitters.values()) await s.close();
    await running?.stop();
  }
  const scenarios = makeScenarios({ births: options.births, seed, standesaemter: hubConfig.standesaemter, firstEntry: 1 + (seed % 1000) * 10_000 });
  return summarize(options, exchange.hubDir, firstSubmit, submittedAt, { ca: exchange.caDir, hub: exchange.hubDir, parties: exchange.parties.map((p) => p.dir) }, scenarioOf(scenarios));
}

/** What the births were made of, and the deliveries that follow from it. */
function scenarioOf(scenarios: readonly BirthScenario[]): DemoSummary['scenario'] {
  const expected = expectedDeliveries(scenarios);
  const kinds = (role: string) => ({ initial: expected.filter((d) => d.role === role && d.kind === 'initial').length, correction: expected.filter((d) => d.role === role && d.kind === 'correction').length });
  return {
    standesaemter: new Set(scenarios.map((s) => s.standesamt.standesamtsnummer)).size,
    withConsent: scenarios.filter((s) => s.registration.consent.elterngeldstelle).length,
    withoutConsent: scenarios.filter((s) => !s.registration.consent.elterngeldstelle).length,
    idnr: { early: scenarios.filter((s) => s.idnr === 'early').length, late: scenarios.filter((s) => s.idnr === 'late').length, never: scenarios.filter((s) => s.idnr === 'never').length },
    withdrawals: scenarios.filter((s) => s.withdrawal).length,
    corrections: scenarios.filter((s) => s.correction).length,
    correctionsAfterWithdrawal: scenarios.filter((s) => s.correction && s.withdrawal).length,
    expected: { elterngeldstelle: kinds('elterngeldstelle'), familienkasse: kinds('familienkasse') },
  };
}

/** What the hub's log recorded, read after the hub stopped, and the audit of it. */
async function summarize(options: DemoOptions, hubDir: string, firstSubmit: number, submittedAt: ReadonlyMap<string, number>, layout: DemoSummary['layout'], scenario: DemoSummary['scenario']): Promise<DemoSummary> {
  const files = logFiles(hubDir);
  // Read with the hub's case keys: birth cases are stored as ciphertext.
  const raw = openSqliteEventStore(files.events);
  const store = openCaseLog(raw, hubDir);
  const scheduled = new Map<string, { role: string; kind: string; causationId: string }>();
  const outcomes = new Map<string, { kind: 'acknowledged' | 'rejected' | 'deadLettered'; at: number }>();
  let audit: AuditReport;
  try {
    for await (const stored of store.readAll()) {
      const event = fromRecord(stored);
      if (event?.type === 'DeliveryScheduled') scheduled.set(event.data.deliveryId, { role: event.data.recipient.role, kind: event.data.kind, causationId: event.causationId ?? '' });
      else if (event?.type === 'DeliveryAcknowledged' || event?.type === 'DeliveryRejected' || event?.type === 'DeliveryDeadLettered') {
        const kind = event.type === 'DeliveryAcknowledged' ? 'acknowledged' : event.type === 'DeliveryRejected' ? 'rejected' : 'deadLettered';
        if (!outcomes.has(event.data.deliveryId)) outcomes.set(event.data.deliveryId, { kind, at: Date.parse(stored.recordedAt) });
      }
    }
    const verifier = parseVerifierKey(verifierKey(parseConfig({ ...options.config }).log.origin, createPublicKey(readPrivateKey(files.hubKey))));
    if (!verifier.success) throw verifier.error;
    // The audit hashes what is stored (ciphertext) and re-checks the kept signatures.
    const signatures = new SignatureAudit({ caCertificatePem: readFileSync(path.join(layout.ca, 'ca.cert.pem'), 'utf8'), crlPem: readFileSync(path.join(layout.ca, 'crl.pem'), 'utf8'), keys: store.keys });
    audit = await verifyLog(raw, verifier.data, { treeFile: files.tree, signatures });
  } finally {
    await store.close();
  }
  const latencies = [...scheduled.entries()].flatMap(([id, d]) => {
    const outcome = outcomes.get(id);
    const sent = submittedAt.get(d.causationId);
    return outcome && sent ? [outcome.at - sent] : [];
  });
  const values = [...outcomes.values()];
  const lastAnswer = Math.max(firstSubmit, ...values.map((o) => o.at));
  const count = (role: string) => [...scheduled.values()].filter((d) => d.role === role).length;
  const kinds = (role: string): KindCounts => ({ initial: [...scheduled.values()].filter((d) => d.role === role && d.kind === 'initial').length, correction: [...scheduled.values()].filter((d) => d.role === role && d.kind === 'correction').length });
  return {
    births: options.births,
    deliveries: { elterngeldstelle: count('elterngeldstelle'), familienkasse: count('familienkasse') },
    acknowledged: values.filter((o) => o.kind === 'acknowledged').length,
    rejected: values.filter((o) => o.kind === 'rejected').length,
    deadLettered: values.filter((o) => o.kind === 'deadLettered').length,
    unanswered: [...scheduled.keys()].filter((id) => !outcomes.has(id)).length,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    birthsPerSecond: options.births / Math.max(0.001, (lastAnswer - firstSubmit) / 1000),
    audit: { ok: audit.ok, entries: audit.entries, checkpoints: audit.checkpoints, firstBadPosition: audit.firstBadPosition, reason: audit.reason },
    dataDir: path.resolve(options.dataDir),
    layout,
    byKind: { elterngeldstelle: kinds('elterngeldstelle'), familienkasse: kinds('familienkasse') },
    scenario,
  };
}

/** Reads a JSON file (used by tests that inspect the layout). */
export const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
