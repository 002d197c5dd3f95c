// Read-side query latency: case status and the Datenschutzcockpit's transparency answer, at
// 100k log entries (1M with --large). The log is built through the hub's own code paths:
// synthetic births (with IdNrs) appended to the log as the ingress does, routed by the real
// scheduler (DeliveryScheduled), projected by the real read side; then the query functions
// are measured in-process, and once through the HTTP server (mutual TLS, cockpit role).
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../connectors/kit/logger.ts';
import { createRequest } from '../../connectors/kit/credentials.ts';
import { startApiServer } from '../../hub/src/api/server.ts';
import { readSideGauges } from '../../hub/src/app/readSideServices.ts';
import { defaultStandesaemter, parseConfig } from '../../hub/src/config/config.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';
import { openHubLog } from '../../hub/src/log/openHubLog.ts';
import { toRecord } from '../../hub/src/log/records.ts';
import { enrolRequest, pkiInit } from '../../hub/src/pki/pki.ts';
import { statusOfCase, transparency } from '../../hub/src/readside/queries.ts';
import { startReadSide } from '../../hub/src/readside/readSide.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { percentile, type Figure, type Section } from '../report.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-bench-readside-'));

/** Latencies (ms) of `n` calls of `fn(i)`. */
async function timed(n: number, fn: (i: number) => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

async function enrol(caDir: string, dir: string, request: Parameters<typeof createRequest>[1]) {
  await createRequest(dir, request);
  writeFileSync(path.join(dir, 'cert.pem'), (await enrolRequest(caDir, readFileSync(path.join(dir, 'request.csr'), 'utf8'))).certificatePem);
  return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
}

/** The Meldebehörde's IdNrs of a birth: the child's and the parent's (the Familienkasse needs both). */
const idnrs = (s: { registration: Parameters<typeof childIdNr>[0]; childIdNr: string; parent1IdNr: string }) => {
  const e = childIdNr(s.registration, s.childIdNr);
  return { ...e, data: { ...e.data, parent1IdNr: s.parent1IdNr as typeof e.data.childIdNr } };
};

async function atSize(entries: number, figures: Figure[]): Promise<void> {
  const label = entries >= 1_000_000 ? `${entries / 1_000_000}M` : `${entries / 1000}k`;
  const dir = tmp();
  const config = parseConfig({ dataDir: dir });
  const log = await openHubLog({ dataDir: dir, checkpoint: { everyEntries: 10_000, everyMs: 0 } });
  try {
    // About 3.6 entries a birth: registration, IdNrs, one or two deliveries (no consent: none to the Elterngeldstelle).
    const births = Math.ceil(entries / 3.5);
    const scenarios = makeScenarios({ births, seed: 4711, standesaemter: defaultStandesaemter, firstEntry: 1 });
    const t0 = performance.now();
    const batch = 256;
    for (let i = 0; i < scenarios.length; i += batch) {
      await Promise.all(scenarios.slice(i, i + batch).map(async (s, k) => log.append(`birth-bench-${i + k}`, [toRecord(registered(s.registration)), toRecord(idnrs(s))])));
    }
    const scheduler = startScheduler({ log, table: config.routing });
    await until(async () => scheduler.stats.position >= (await log.size()), { what: 'scheduler caught up', timeoutMs: 3_600_000 });
    await scheduler.stop();
    const size = await log.size();
    figures.push({ key: `readside.build.${label}`, label: `build log (${size.toLocaleString('en-US')} entries, ${births.toLocaleString('en-US')} births) + routing`, value: (performance.now() - t0) / 1000, unit: 's' });
    const p0 = performance.now();
    const readSide = await startReadSide({ log, dir: path.join(dir, 'readside'), escalation: { acknowledgeWithinMs: 3_600_000, escalateAfterMs: 3 * 86_400_000, checkEveryMs: 3_600_000 } });
    await readSide.caughtUp(size, 3_600_000);
    figures.push({ key: `readside.project.${label}`, label: `project ${label} entries into the read side`, value: size / ((performance.now() - p0) / 1000), unit: 'entries/s' });

    const ctx = { relayPosition: size, heldBack: () => undefined };
    const now = new Date();
    const n = 5000;
    const pick = (i: number) => scenarios[(i * 7919) % scenarios.length]!;
    const caseOf = (i: number) => `birth-bench-${(i * 7919) % scenarios.length}`;
    // Warm up, and check that the queries answer what was built.
    if (!statusOfCase(readSide.store, ctx, caseOf(1))) throw new Error('bench read side: no case status');
    if (transparency(readSide.store, ctx, pick(1).childIdNr, now).exchanges.length === 0 && transparency(readSide.store, ctx, pick(2).childIdNr, now).exchanges.length === 0) throw new Error('bench read side: no transparency answer');
    const status = await timed(n, (i) => statusOfCase(readSide.store, ctx, caseOf(i)));
    const trans = await timed(n, (i) => transparency(readSide.store, ctx, pick(i).childIdNr, now));
    figures.push({ key: `readside.status.p50.${label}`, label: `case status p50 at ${label} entries (in-process)`, value: percentile(status, 50), unit: 'ms' });
    figures.push({ key: `readside.status.p99.${label}`, label: `case status p99 at ${label} entries (in-process)`, value: percentile(status, 99), unit: 'ms' });
    figures.push({ key: `readside.transparency.p50.${label}`, label: `transparency p50 at ${label} entries (in-process)`, value: percentile(trans, 50), unit: 'ms' });
    figures.push({ key: `readside.transparency.p99.${label}`, label: `transparency p99 at ${label} entries (in-process)`, value: percentile(trans, 99), unit: 'ms' });
    // What a scrape of the hub's /metrics asks the read side (it runs on the hub's event loop).
    const gauges = await timed(20, () => readSideGauges(readSide));
    figures.push({ key: `readside.metrics.p50.${label}`, label: `the read side's gauges of one /metrics scrape, p50 at ${label} entries (in-process, on the hub's event loop)`, value: percentile(gauges, 50), unit: 'ms' });

    // Once through the HTTP server: mutual TLS, an auditor and the cockpit, keep-alive.
    const caDir = path.join(dir, 'ca');
    await pkiInit(caDir);
    const server = await enrol(caDir, path.join(dir, 'api'), { name: 'bench api', serverNames: ['127.0.0.1'], tlsServer: true });
    const auditor = await enrol(caDir, path.join(dir, 'aud'), { role: 'auditor', dvdv: 'aud:bench', name: 'Bench auditor' });
    const cockpit = await enrol(caDir, path.join(dir, 'dsc'), { role: 'cockpit', dvdv: 'dsc:bench', name: 'Bench cockpit' });
    const ca = readFileSync(path.join(caDir, 'ca.cert.pem'), 'utf8');
    const api = await startApiServer({ port: 0, tls: { ...server, ca }, revoked: () => new Set(), log, readSide, relayPosition: () => size, cosignedNote: (_s, note) => note, certificates: () => [], logger: createLogger('bench', { level: 'silent' }) });
    const agent = (who: { key: string; cert: string }) => new https.Agent({ keepAlive: true, maxSockets: 1, ca, ...who });
    const call = (a: https.Agent, method: string, url: string, body?: unknown) =>
      new Promise<void>((resolve, reject) => {
        const req = https.request(`${api.url}${url}`, { method, agent: a, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${url}: ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body ? JSON.stringify(body) : undefined);
      });
    try {
      const aud = agent(auditor);
      const dsc = agent(cockpit);
      const m = 1000;
      await call(aud, 'GET', `/api/v1/cases/${caseOf(0)}`);
      await call(dsc, 'POST', '/api/v1/transparency', { idnr: pick(0).childIdNr });
      const httpStatus = await timed(m, (i) => call(aud, 'GET', `/api/v1/cases/${caseOf(i)}`));
      const httpTrans = await timed(m, (i) => call(dsc, 'POST', '/api/v1/transparency', { idnr: pick(i).childIdNr }));
      figures.push({ key: `readside.http.status.p50.${label}`, label: `GET /api/v1/cases p50 at ${label} entries (HTTPS, mTLS)`, value: percentile(httpStatus, 50), unit: 'ms' });
      figures.push({ key: `readside.http.status.p99.${label}`, label: `GET /api/v1/cases p99 at ${label} entries (HTTPS, mTLS)`, value: percentile(httpStatus, 99), unit: 'ms' });
      figures.push({ key: `readside.http.transparency.p50.${label}`, label: `POST /api/v1/transparency p50 at ${label} entries (HTTPS, mTLS)`, value: percentile(httpTrans, 50), unit: 'ms' });
      figures.push({ key: `readside.http.transparency.p99.${label}`, label: `POST /api/v1/transparency p99 at ${label} entries (HTTPS, mTLS)`, value: percentile(httpTrans, 99), unit: 'ms' });
      aud.destroy();
      dsc.destroy();
    } finally {
      await api.stop();
      await readSide.stop();
    }
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function readsideProbe(options: { large: boolean; sizes?: readonly number[] }): Promise<Section[]> {
  const figures: Figure[] = [];
  for (const size of options.sizes ?? (options.large ? [100_000, 1_000_000] : [100_000])) await atSize(size, figures);
  return [{ name: 'Read side: status and transparency queries', figures }];
}
