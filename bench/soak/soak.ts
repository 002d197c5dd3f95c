// The chaos soak: the whole exchange as processes (`elfe exchange init`, then the hub with its
// nats-server, both agencies' connectors, the Standesamt's watcher and the local witness, each
// with its own command), births dropped into the watch directory at a steady rate, and a
// scheduler that kills a random process with SIGKILL every few seconds and starts it again with
// its normal command (the nats-server is the hub's child: the hub starts it again). The
// Meldebehörde sends the child's IdNr for most births once the Standesamt's watcher has them
// registered (its submitter, with its own key and outbox, runs in the soak's own process and is
// not killed), so the Familienkasse's connector receives hand-offs too. At the end,
// with the killing stopped: every birth registered, each delivery exactly once in its inbox and
// acknowledged in the hub's log, `elfe audit verify` passes against the hub's latest checkpoint
// carrying the witness's cosignature, and the RSS and open file descriptors of the hub and the
// connectors, sampled from /proc every few seconds, have a least-squares slope near zero.
import { readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { deterministicUuid, formatRegisterKey, render081020, render081021 } from '../../contracts/index.ts';
import { loadPartyConfig } from '../../connectors/kit/partyConfig.ts';
import { openSubmitter } from '../../connectors/standesamt/src/main.ts';
import { idNrAssignmentOf } from '../../connectors/standesamt/src/messages.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../../hub/src/demo/synthetic.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { runExchange } from '../../hub/src/runner/exchangeRunner.ts';
import { filesIn, procSample, processAlive, runElfe } from '../../hub/src/runner/partyProcess.ts';
import { until } from '../../hub/src/runner/until.ts';
import { acrossSoakPerMinute, slopePerMinute, type Sample, type SlopeResult } from './slope.ts';

export type Kind = 'hub' | 'nats-server' | 'connector-egs' | 'connector-fka' | 'watcher' | 'witness';
export const kinds: readonly Kind[] = ['hub', 'nats-server', 'connector-egs', 'connector-fka', 'watcher', 'witness'];

export interface SoakOptions {
  readonly minutes: number;
  /** Births per second (default 20). */
  readonly rate?: number;
  /** Mean time between kills in ms (default 5000; each gap is uniform in [0.5, 1.5] × this). */
  readonly killEveryMs?: number;
  /** Resource samples every … ms (default 5000). */
  readonly sampleEveryMs?: number;
  /** Time allowed for the exchange to catch up after the killing stopped (default 10 min). */
  readonly drainTimeoutMs?: number;
  readonly seed?: number;
  /** Keep the data directory (its path is in the result). */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface ResourceSlope {
  readonly process: 'hub' | 'connector-egs' | 'connector-fka';
  readonly rss: SlopeResult;
  readonly fds: SlopeResult;
  /** One line through every sample (after each lifetime's warm-up), per minute of the soak. */
  readonly rssAcross: number | undefined;
  readonly fdsAcross: number | undefined;
  readonly lastRssBytes: number | undefined;
  readonly lastFds: number | undefined;
}

export interface SoakResult {
  readonly root: string;
  readonly minutes: number;
  readonly rate: number;
  readonly births: number;
  readonly achievedRate: number;
  readonly kills: Record<Kind, number>;
  readonly deliveries: number;
  /** IdNrs the Meldebehörde sent (each one hand-off to the Familienkasse). */
  readonly idnrs: number;
  readonly inboxFiles: number;
  /** Longest time (ms) during the soak in which births were waiting and none got its delivery. */
  readonly maxStallMs: number;
  readonly p50StallMs: number;
  /** From the end of the killing until every delivery was in its inbox and acknowledged. */
  readonly drainMs: number;
  readonly resources: readonly ResourceSlope[];
  /** The machine's 1-minute load average over the soak: mean and max (other work on the same cores counts). */
  readonly load: { readonly mean: number; readonly max: number };
  /** What did not hold; empty when the soak passed. */
  readonly failures: readonly string[];
}

export const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;
const egsName = 'egs-11000000';
const fkaName = 'fka-ost';
const mbhName = 'mbh-demo';

const baseOf = (s: BirthScenario) => {
  const k = s.registration.registerKey;
  return `${k.standesamtsnummer}_G_${k.jahr}_${k.eintragsnummer}`;
};

/** Drops one synthetic birth as the Standesamt's system would: its 081021, then its 081020, each written under a temporary name and renamed. */
export function dropBirth(watchDir: string, s: BirthScenario): void {
  const sta = { dvdv: `psw:${s.standesamt.standesamtsnummer}`, name: s.standesamt.name };
  const portal = { dvdv: 'sap:000000013', name: s.institution, phone: '0800 000000', address: { street: 'Klinikweg', houseNumber: '1', postcode: s.standesamt.address.postcode, city: s.standesamt.address.city } };
  const info = (messageId: string) => ({ messageId, createdAt: new Date().toISOString(), author: portal, reader: sta });
  const notice = render081020(s.registration, { ...info(s.ids.notice), institution: s.institution, zuordnung: s.registration.zuordnungGeburtsanzeige! });
  const supplement = render081021(s.registration, { ...info(s.ids.supplement), zuordnung: s.registration.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
  if (!notice.success || !supplement.success) throw new Error(`birth ${s.index} cannot be written as XML`);
  const base = path.join(watchDir, baseOf(s));
  writeFileSync(`${base}.081021.xml.tmp`, supplement.data);
  renameSync(`${base}.081021.xml.tmp`, `${base}.081021.xml`);
  writeFileSync(`${base}.081020.xml.tmp`, notice.data);
  renameSync(`${base}.081020.xml.tmp`, `${base}.081020.xml`);
}

/** A small seeded PRNG for the kill schedule (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogState {
  registered: number;
  scheduled: { deliveryId: string; dvdv: string; key: string }[];
  acknowledged: Set<string>;
  refused: number;
}

async function readLog(hubDir: string): Promise<LogState> {
  const reading = openCaseLog(openSqliteEventStore(logFiles(hubDir).events), hubDir);
  try {
    const events = (await collect(reading.readAll())).map(fromRecord);
    const state: LogState = { registered: 0, scheduled: [], acknowledged: new Set(), refused: 0 };
    for (const e of events) {
      if (e?.type === 'BirthRegistered') state.registered++;
      else if (e?.type === 'DeliveryScheduled') state.scheduled.push({ deliveryId: e.data.deliveryId, dvdv: e.data.recipient.dvdv, key: `${formatRegisterKey(e.data.registerKey)}/${e.data.recipient.dvdv}/${e.data.kind}` });
      else if (e?.type === 'DeliveryAcknowledged') state.acknowledged.add(e.data.deliveryId);
      else if (e?.type === 'DeliveryRejected' || e?.type === 'DeliveryDeadLettered') state.refused++;
    }
    return state;
  } finally {
    await reading.close();
  }
}

function get(url: string, root: string): Promise<{ status: number; body: string }> {
  const aud = path.join(root, 'parties', 'aud-local');
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: readFileSync(path.join(root, 'ca', 'ca.cert.pem')), key: readFileSync(path.join(aud, 'key.pem')), cert: readFileSync(path.join(aud, 'cert.pem')), agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rate = options.rate ?? 20;
  const killEveryMs = options.killEveryMs ?? 5_000;
  const sampleEveryMs = options.sampleEveryMs ?? 5_000;
  const random = prng(options.seed ?? 25);
  const failures: string[] = [];
  const staName = `sta-${standesamt.standesamtsnummer}`;
  // The parties of the soak: one Standesamt's watcher, both agencies, the hub and the local witness.
  const partyOf: Record<Exclude<Kind, 'nats-server'>, string> = { witness: 'witness', hub: 'hub', 'connector-egs': egsName, 'connector-fka': fkaName, watcher: staName };
  const exchange = await runExchange({ label: 'soak', api: true, start: Object.values(partyOf) });
  const { root, hubDir } = exchange;
  const apiPort = exchange.apiPort!;
  const witnessKey = exchange.witness!.verifierKey;
  const watchDir = exchange.watchDir(staName);
  const inbox = (name: string) => filesIn(exchange.inboxDir(name), /^(?!.*\.meta\.json$).*\.(xml|json)$/);
  const procs = new Map((Object.entries(partyOf) as [Exclude<Kind, 'nats-server'>, string][]).map(([kind, name]) => [kind, exchange.process(name)!]));
  const melde = await openSubmitter(loadPartyConfig(path.join(root, 'parties', mbhName, 'config.json')), () => {}, { concurrency: 8 });
  // Interrupted (Ctrl-C, a test's timeout): the parties go with the soak.
  const interrupted = (signal: NodeJS.Signals) => {
    void exchange.stop().catch(() => undefined);
    setTimeout(() => process.exit(130), 5_000).unref();
    log(`soak: ${signal}, stopping the parties (data directory ${root})`);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  log(`soak: exchange in ${root}; ${options.minutes} min at ${rate} births/s, a SIGKILL every ~${killEveryMs / 1000} s`);

  const kills = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>;
  const samples = new Map<ResourceSlope['process'], { rss: Sample[]; fds: Sample[] }>([
    ['hub', { rss: [], fds: [] }],
    ['connector-egs', { rss: [], fds: [] }],
    ['connector-fka', { rss: [], fds: [] }],
  ]);
  const t0 = Date.now();
  const endAt = t0 + options.minutes * 60_000;
  let births = 0;
  let consented = 0;
  /** Births dropped whose IdNr is to follow their registration, by file base name. */
  const awaitingIdNr = new Map<string, BirthScenario>();
  let idnrs = 0;
  const natsPidFile = path.join(hubDir, 'nats', 'nats-server.pid');
  const natsPid = () => {
    try {
      return Number(readFileSync(natsPidFile, 'utf8'));
    } catch {
      return undefined;
    }
  };

  // The drive: births at a steady rate, in ticks of 100 ms.
  let stop = false;
  const driver = (async () => {
    let pending: BirthScenario[] = [];
    let chunk = 0;
    while (!stop && Date.now() < endAt) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      while (births < due) {
        if (pending.length === 0) pending = makeScenarios({ births: 500, seed: 1000 + chunk++, standesaemter: [standesamt], firstEntry: 100_000 + births });
        const s = pending.shift()!;
        dropBirth(watchDir, s);
        if (s.idnr !== 'never') awaitingIdNr.set(baseOf(s), s);
        births++;
        if (s.registration.consent.elterngeldstelle) consented++;
      }
      await sleep(100);
    }
  })();

  // The Meldebehörde: a birth's IdNr once the Standesamt's watcher has it registered (done/).
  const sendIdNrs = () => {
    if (awaitingIdNr.size === 0) return;
    for (const file of filesIn(path.join(watchDir, 'done'), /\.081020\.xml$/)) {
      const base = file.replace(/\.081020\.xml$/, '');
      const s = awaitingIdNr.get(base);
      if (!s) continue;
      awaitingIdNr.delete(base);
      const event = idNrAssignmentOf(melde.trust.identity, { registerKey: s.registration.registerKey, childIdNr: s.childIdNr, ...(s.parent1IdNr ? { parent1IdNr: s.parent1IdNr } : {}) }, { messageId: deterministicUuid('soak-idnr', base) });
      const queued = melde.connector.enqueue(event);
      if (!queued.success) failures.push(`the Meldebehörde could not queue the IdNr of ${base}: ${queued.error.code}`);
      else idnrs++;
    }
    void melde.connector.flush();
  };
  const idnrLoop = (async () => {
    while (!stop) {
      sendIdNrs();
      await sleep(1000);
    }
  })();

  // The chaos: one random process, SIGKILL, its normal command again (the hub restarts its nats-server).
  const chaos = (async () => {
    while (!stop) {
      await sleep(killEveryMs * (0.5 + random()));
      if (stop || Date.now() >= endAt) break;
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      if (kind === 'nats-server') {
        const hub = procs.get('hub')!;
        const pid = natsPid();
        if (!hub.isReady || pid === undefined || !processAlive(pid)) continue;
        process.kill(pid, 'SIGKILL');
        kills[kind]++;
        log(`soak: +${((Date.now() - t0) / 1000).toFixed(0)} s SIGKILL nats-server ${pid}`);
        continue;
      }
      const p = procs.get(kind)!;
      if (!p.isReady) continue; // still coming back from its last kill
      const pid = p.pid;
      await p.kill('SIGKILL');
      kills[kind]++;
      log(`soak: +${((Date.now() - t0) / 1000).toFixed(0)} s SIGKILL ${kind} ${pid}`);
      p.start();
    }
  })();

  // Samples: RSS and open fds from /proc; progress for the stall figure.
  const stalls: number[] = [];
  const loads: number[] = [];
  let lastProgressAt = Date.now();
  let lastDelivered = 0;
  let stallOpen = false;
  const pidOf = (k: ResourceSlope['process']) => procs.get(k)!.pid;
  let nextSample = 0;
  const sampler = (async () => {
    while (!stop) {
      const now = Date.now();
      if (now >= nextSample) {
        nextSample = now + sampleEveryMs;
        loads.push(os.loadavg()[0]!);
        for (const [k, s] of samples) {
          const pid = pidOf(k);
          const p = procs.get(k)!;
          if (pid === undefined || !p.isReady) continue;
          const got = procSample(pid);
          if (!got) continue;
          s.rss.push({ pid, t: now - t0, value: got.rss });
          s.fds.push({ pid, t: now - t0, value: got.fds });
        }
      }
      const delivered = inbox(egsName).length;
      const waiting = consented > delivered;
      if (delivered > lastDelivered || !waiting) {
        if (stallOpen) stalls.push(now - lastProgressAt);
        stallOpen = false;
        lastDelivered = delivered;
        lastProgressAt = now;
      } else stallOpen = true;
      await sleep(500);
    }
  })();

  let progressLine = Date.now();
  while (Date.now() < endAt) {
    await sleep(1000);
    if (Date.now() - progressLine >= 30_000) {
      progressLine = Date.now();
      log(`soak: +${((Date.now() - t0) / 1000).toFixed(0)} s load ${os.loadavg()[0]!.toFixed(1)}, births ${births}, done ${filesIn(path.join(watchDir, 'done'), /\.081020\.xml$/).length}, egs inbox ${inbox(egsName).length}/${consented}, kills ${JSON.stringify(kills)}`);
    }
  }
  await driver;
  const killingEnded = Date.now();
  // The chaos loop ends by itself at `endAt` (a kill in flight completes, its process started again).
  await chaos;
  log(`soak: killing stopped after ${((killingEnded - t0) / 60_000).toFixed(2)} min; ${births} births; draining`);

  // Drain: every process back, every birth submitted, each delivery in its inbox once and acknowledged.
  let drainMs = NaN;
  let state: LogState | undefined;
  try {
    await Promise.all([...procs.values()].map((p) => p.ready(p.readyPattern, 180_000)));
    const drainTimeout = options.drainTimeoutMs ?? 600_000;
    await until(() => filesIn(path.join(watchDir, 'done'), /\.081020\.xml$/).length + filesIn(path.join(watchDir, 'failed')).length >= births, { what: 'every birth submitted', timeoutMs: drainTimeout });
    await until(() => {
      sendIdNrs();
      const { pending } = melde.connector.counts();
      return awaitingIdNr.size === 0 && pending === 0;
    }, { what: 'every IdNr answered by the hub', timeoutMs: drainTimeout });
    await until(async () => {
      if (inbox(egsName).length < consented || inbox(fkaName).length < idnrs) return false;
      state = await readLog(hubDir);
      return state.registered >= births && state.scheduled.length > 0 && state.scheduled.every((d) => state!.acknowledged.has(d.deliveryId));
    }, { what: 'every delivery in its inbox and acknowledged', timeoutMs: drainTimeout });
    drainMs = Date.now() - killingEnded;
    // Nothing more arrives (redeliveries after the restarts are absorbed).
    let a = -1;
    await until(async () => {
      const b = inbox(egsName).length + inbox(fkaName).length;
      const same = a === b;
      a = b;
      if (!same) await sleep(2000);
      return same;
    }, { what: 'inboxes stable', timeoutMs: 60_000 });
  } catch (error) {
    failures.push((error as Error).message);
  }
  stop = true;
  await sampler;
  await idnrLoop;
  const idnrRefused = melde.connector.list().filter((r) => r.status === 'refused');
  if (idnrRefused.length > 0) failures.push(`${idnrRefused.length} IdNrs refused by the hub (e.g. ${idnrRefused[0]!.code ?? '?'})`);
  await melde.close();

  state = await readLog(hubDir);
  const failed = filesIn(path.join(watchDir, 'failed'));
  if (failed.length > 0) failures.push(`${failed.length} files in the watcher's failed/: ${failed.slice(0, 5).join(', ')}`);
  if (state.registered !== births) failures.push(`${state.registered} BirthRegistered in the log for ${births} births`);
  const keys = new Set(state.scheduled.map((d) => d.key));
  if (keys.size !== state.scheduled.length) failures.push(`${state.scheduled.length - keys.size} deliveries scheduled twice for the same birth, recipient and kind`);
  const unacknowledged = state.scheduled.filter((d) => !state!.acknowledged.has(d.deliveryId));
  if (unacknowledged.length > 0) failures.push(`${unacknowledged.length} deliveries not acknowledged (e.g. ${unacknowledged[0]!.deliveryId})`);
  if (state.refused > 0) failures.push(`${state.refused} deliveries rejected or dead-lettered`);
  let inboxFiles = 0;
  for (const [name, dvdv] of [[egsName, 'egs:11000000'], [fkaName, 'fka:ost']] as const) {
    const files = inbox(name);
    inboxFiles += files.length;
    const ids = files.map((f) => f.replace(/\.(xml|json)$/, ''));
    const want = new Set(state.scheduled.filter((d) => d.dvdv === dvdv).map((d) => d.deliveryId));
    if (new Set(ids).size !== ids.length) failures.push(`${name}: a delivery id twice in the inbox`);
    const missing = [...want].filter((id) => !ids.includes(id));
    const extra = ids.filter((id) => !want.has(id));
    if (missing.length > 0) failures.push(`${name}: ${missing.length} deliveries missing from the inbox (e.g. ${missing[0]})`);
    if (extra.length > 0) failures.push(`${name}: ${extra.length} inbox files that are no scheduled delivery (e.g. ${extra[0]})`);
  }
  if (inbox(egsName).length !== consented) failures.push(`${egsName}: ${inbox(egsName).length} deliveries for ${consented} births with consent`);
  if (inbox(fkaName).length !== idnrs) failures.push(`${fkaName}: ${inbox(fkaName).length} deliveries for ${idnrs} IdNrs sent`);

  // The witness: it catches up with the hub's latest checkpoint, and the auditor checks that
  // checkpoint, with the witness's cosignature, against the log.
  const witnessSize = () => {
    const file = path.join(root, 'witness', 'state', 'witness-state.json');
    if (!existsSync(file)) return 0;
    return (JSON.parse(readFileSync(file, 'utf8')) as { logs: Record<string, { size: number }> }).logs['elfe-hub/log']?.size ?? 0;
  };
  let note = '';
  try {
    await until(async () => {
      const answer = await get(`https://127.0.0.1:${apiPort}/checkpoint`, root).catch(() => ({ status: 0, body: '' }));
      note = answer.body;
      return answer.status === 200 && Number(note.split('\n')[1]) === witnessSize() && /^— elfe-witness\.local\/w1 \S+$/m.test(note);
    }, { what: "the hub's latest checkpoint cosigned by the witness", timeoutMs: 120_000 });
  } catch (error) {
    failures.push(`${(error as Error).message} (witness at ${witnessSize()}, hub's checkpoint ${note.split('\n')[1] ?? '?'})`);
  }

  await exchange.stop().catch((error: unknown) => failures.push(`stopping the parties: ${(error as Error).message}`));
  process.removeListener('SIGINT', interrupted);
  process.removeListener('SIGTERM', interrupted);
  const checkpointFile = path.join(root, 'checkpoint.txt');
  writeFileSync(checkpointFile, note);
  const audit = await runElfe(['audit', 'verify', '--data', hubDir, ...(note ? ['--checkpoint', checkpointFile, '--witness-key', witnessKey] : [])], { timeoutMs: 600_000 });
  if (audit.code !== 0) failures.push(`elfe audit verify exit ${audit.code}: ${(audit.stdout + audit.stderr).slice(-2000)}`);

  const resources: ResourceSlope[] = [...samples].map(([k, s]) => ({
    process: k,
    rss: slopePerMinute(s.rss),
    fds: slopePerMinute(s.fds),
    rssAcross: acrossSoakPerMinute(s.rss),
    fdsAcross: acrossSoakPerMinute(s.fds),
    lastRssBytes: s.rss.at(-1)?.value,
    lastFds: s.fds.at(-1)?.value,
  }));
  const minutes = (killingEnded - t0) / 60_000;
  const sorted = [...stalls].sort((x, y) => x - y);
  const result: SoakResult = {
    root,
    minutes,
    rate,
    births,
    achievedRate: births / ((killingEnded - t0) / 1000),
    kills,
    deliveries: state.scheduled.length,
    idnrs,
    inboxFiles,
    maxStallMs: sorted.at(-1) ?? 0,
    p50StallMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
    drainMs,
    resources,
    load: { mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), max: Math.max(0, ...loads) },
    failures,
  };
  if (failures.length > 0) {
    for (const [k, p] of procs) log(`--- ${k} (${p.starts} starts), last output:\n${p.history.slice(-3000)}`);
  }
  if (!options.keep && failures.length === 0) rmSync(root, { recursive: true, force: true });
  return result;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : (bytes / 2 ** 20).toFixed(1));
const signed = (n: number | undefined, digits: number) => (n === undefined ? 'n/a' : `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`);

export function renderSoak(r: SoakResult): string {
  const lines = [
    `soak: ${r.minutes.toFixed(2)} min under SIGKILL, ${r.births} births (${r.achievedRate.toFixed(1)}/s of ${r.rate}/s asked), ${r.idnrs} IdNrs, ${r.deliveries} deliveries, ${r.inboxFiles} inbox files`,
    `machine: ${os.cpus().length} cores, load average (1 min) mean ${r.load.mean.toFixed(1)}, max ${r.load.max.toFixed(1)}`,
    `kills: ${kinds.map((k) => `${k} ${r.kills[k]}`).join(', ')} (${Object.values(r.kills).reduce((a, b) => a + b, 0)} in all)`,
    `stall (births waiting, no delivery arriving): p50 ${(r.p50StallMs / 1000).toFixed(1)} s, max ${(r.maxStallMs / 1000).toFixed(1)} s; drain after the last kill ${(r.drainMs / 1000).toFixed(1)} s`,
    'resources (least-squares slope per minute: within each process lifetime | one line across the soak; first 10 s of each lifetime left out):',
    ...r.resources.map((x) => `  ${x.process.padEnd(14)} RSS ${signed(x.rss.perMinute === undefined ? undefined : x.rss.perMinute / 2 ** 20, 2)} | ${signed(x.rssAcross === undefined ? undefined : x.rssAcross / 2 ** 20, 2)} MB/min (last ${mb(x.lastRssBytes)} MB), fds ${signed(x.fds.perMinute, 2)} | ${signed(x.fdsAcross, 2)} /min (last ${x.lastFds ?? '?'}); ${x.rss.segments} lifetimes, ${x.rss.samples} samples, longest ${(x.rss.longestMs / 60_000).toFixed(1)} min`),
    r.failures.length === 0 ? 'result: every birth registered, every delivery exactly once in its inbox and acknowledged, audit verify passes with the witness-cosigned checkpoint' : `result: FAILED\n${r.failures.map((f) => `  - ${f}`).join('\n')}`,
  ];
  return lines.join('\n');
}
