// The HTTP API against the running hub (in-process, its own nats-server, births submitted over
// NATS with the parties' certificates), two questions:
//  1. Who sees what: an agency sees only its own hand-offs in every answer (look-up, case,
//     summary, dashboard); the owning Standesamt and the auditor see the whole case.
//  2. Hygiene: every refusal, the framework's own too, is application/problem+json; every answer
//     says `nosniff`; the OpenAPI document declares what is answered; tiles only at their
//     canonical C2SP paths; entry bundles gzip-compressed when the client accepts it.
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, submitSubjectOf, type BirthRegisteredData, type Signer } from '../../contracts/index.ts';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { loadCredentials } from '../../connectors/kit/credentials.ts';
import { enrolAuditor, provisionExchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

interface Who {
  key: string;
  cert: string;
}
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: string;
  json: () => Record<string, unknown>;
}

const problemType = /^application\/problem\+json/;
const connectionLimit = 4;

describe.skipIf(!natsAvailable)('HTTP API: who sees what, and the answers themselves', () => {
  let root: string;
  let hub: RunningHub;
  let base: string;
  let ca: string;
  const who: Record<'auditor' | 'sta' | 'otherSta' | 'egs' | 'fka', Who> = {} as never;
  const connections: NatsConnection[] = [];
  /** A: consent, so both agencies get a hand-off. B: no consent, only the Familienkasse. */
  const a = birthOf('11007007', 'scope-a');
  const b = birthOf('11007007', 'scope-b', { consent: { elterngeldstelle: false } as never });
  let caseA: string;
  let caseB: string;
  let egsA: string;
  let fkaA: string;
  let fkaB: string;

  /** One request on its own connection (or on `agent`'s), closed after the answer unless `agent` keeps it. */
  const call = (url: string, as: Who | undefined, headers: Record<string, string> = {}, agent: https.Agent | false = false): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = https.request(`${base}${url}`, { method: 'GET', ca, headers, agent, ...(as ? { key: as.key, cert: as.cert } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body: raw.toString('utf8'), json: () => JSON.parse(raw.toString('utf8')) as Record<string, unknown> });
        });
      });
      req.on('error', reject);
      req.end();
    });
  const partyTls = (name: string): Who => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return { key: readFileSync(c.keyFile, 'utf8'), cert: c.certificatePem };
  };
  const submitAs = async (name: string, role: 'standesamt' | 'meldebehoerde', dvdv: string, displayName: string, event: object) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    const nc = await connect({ servers: hub.natsUrl, tls: { caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: c.certFile, keyFile: c.keyFile }, inboxPrefix: ownInboxPrefix(role, dvdv) });
    connections.push(nc);
    const signer: Signer = certificateSigner(c.privateKey, c.certificatePem);
    const payload = { ...event, producer: { dvdv, name: displayName, role } };
    const reply = JSON.parse(new TextDecoder().decode((await nc.request(submitSubjectOf(dvdv), signedBytes(payload, signer), { timeout: 10_000 })).data)) as { ok: boolean };
    expect(reply.ok).toBe(true);
  };
  const register = (birth: BirthRegisteredData) => submitAs('sta-11007007', 'standesamt', 'psw:11007007', 'Standesamt Test', registered(birth));
  const assignIdNr = (birth: BirthRegisteredData) => submitAs('mbh-demo', 'meldebehoerde', 'mbh:demo', 'Meldebehörde (Demo)', childIdNr(birth, idNrFrom('3657426180')));
  const recipientsOf = (answer: Answer) => (answer.json()['recipients'] as { role: string; recipient?: string; deliveryId?: string; why: string }[]);

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'elfe-api-scope-'));
    const exchange = await provisionExchange(root, { natsPort: await freePort(), apiPort: 0 });
    const config = loadConfig(exchange.hubConfigFile);
    hub = await startHub({ ...config, api: { ...config.api!, maxConnectionsPerCertificate: connectionLimit } });
    base = hub.readSide.api!.url;
    ca = readFileSync(path.join(root, 'ca', 'ca.cert.pem'), 'utf8');
    // The auditor's identity as `elfe start` makes it (through the CA's issuing policy).
    const auditor = await enrolAuditor(exchange, 'aud-scope');
    who.auditor = { key: readFileSync(auditor.keyFile, 'utf8'), cert: readFileSync(auditor.certFile, 'utf8') };
    who.sta = partyTls('sta-11007007');
    who.otherSta = partyTls('sta-04011000');
    who.egs = partyTls('egs-11000000');
    who.fka = partyTls('fka-ost');
    for (const birth of [a, b]) {
      await register(birth);
      await assignIdNr(birth);
    }
    caseA = hub.caseLog.caseStream(a.registerKey);
    caseB = hub.caseLog.caseStream(b.registerKey);
    const handOffs = async (caseId: string) => recipientsOf(await call(`/api/v1/cases/${caseId}`, who.auditor)).filter((r) => r.deliveryId);
    await until(async () => (await handOffs(caseA)).length === 2 && (await handOffs(caseB)).length === 1, { what: 'the hand-offs of both cases in the read side', timeoutMs: 30_000 });
    const ofA = await handOffs(caseA);
    egsA = ofA.find((r) => r.role === 'elterngeldstelle')!.deliveryId!;
    fkaA = ofA.find((r) => r.role === 'familienkasse')!.deliveryId!;
    fkaB = (await handOffs(caseB)).find((r) => r.role === 'familienkasse')!.deliveryId!;
    await hub.log.checkpointNow();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
    await hub?.stop();
  });

  describe('an agency sees only its own hand-offs', () => {
    it('look-up of a case or register key: an agency gets only its own hand-off (nothing of the other agency, no "no consent"); Standesamt and auditor the whole case', async () => {
      const registerKeyA = encodeURIComponent(`11007007/G/${a.registerKey.jahr}/scope-a`);
      for (const id of [caseA, registerKeyA]) {
        const forEgs = await call(`/api/v1/lookup/${id}`, who.egs);
        expect(forEgs.status).toBe(200);
        expect(String(forEgs.json()['where'])).toContain('elterngeldstelle');
        expect(String(forEgs.json()['where'])).not.toContain('familienkasse');
        expect(JSON.stringify(forEgs.json()['links'])).not.toContain(fkaA);
        const forFka = await call(`/api/v1/lookup/${id}`, who.fka);
        expect(forFka.status).toBe(200);
        expect(String(forFka.json()['where'])).not.toContain('elterngeldstelle');
        expect(JSON.stringify(forFka.json()['links'])).not.toContain(egsA);
        for (const whole of [who.sta, who.auditor]) {
          const all = await call(`/api/v1/lookup/${id}`, whole);
          expect(all.status).toBe(200);
          expect(String(all.json()['where'])).toMatch(/elterngeldstelle.*familienkasse/);
        }
        expect((await call(`/api/v1/lookup/${id}`, who.otherSta)).status).toBe(404);
      }
      // Case B: the Familienkasse does not learn that the parents did not consent; the Elterngeldstelle has no hand-off at all.
      const fkaOnB = await call(`/api/v1/lookup/${caseB}`, who.fka);
      expect(fkaOnB.status).toBe(200);
      expect(String(fkaOnB.json()['where'])).not.toMatch(/consent|elterngeldstelle/i);
      expect((await call(`/api/v1/lookup/${caseB}`, who.egs)).status).toBe(404);
      expect(String((await call(`/api/v1/lookup/${caseB}`, who.sta)).json()['where'])).toMatch(/no consent/);
    });

    it('look-up of a delivery: only its recipient (and the case\'s Standesamt, the auditor); the other agency gets 404 as for an unknown id', async () => {
      expect((await call(`/api/v1/lookup/${fkaA}`, who.egs)).status).toBe(404);
      expect((await call(`/api/v1/lookup/${egsA}`, who.fka)).status).toBe(404);
      expect((await call(`/api/v1/lookup/${fkaB}`, who.egs)).status).toBe(404);
      const own = await call(`/api/v1/lookup/${egsA}`, who.egs);
      expect(own.status).toBe(200);
      expect(own.json()).toMatchObject({ kind: 'delivery', recipient: 'egs:11000000' });
      expect((await call(`/api/v1/lookup/${fkaA}`, who.fka)).json()).toMatchObject({ kind: 'delivery', recipient: 'fka:ost' });
      for (const whole of [who.sta, who.auditor]) for (const id of [egsA, fkaA]) expect((await call(`/api/v1/lookup/${id}`, whole)).status).toBe(200);
      expect((await call(`/api/v1/lookup/${fkaA}`, who.otherSta)).status).toBe(404);
    });

    it('case status: an agency gets only its own hand-off; Standesamt and auditor every recipient', async () => {
      expect(recipientsOf(await call(`/api/v1/cases/${caseA}`, who.egs)).map((r) => r.recipient)).toEqual(['egs:11000000']);
      expect(recipientsOf(await call(`/api/v1/cases/${caseA}`, who.fka)).map((r) => r.recipient)).toEqual(['fka:ost']);
      const fkaOnB = await call(`/api/v1/cases/${caseB}`, who.fka);
      expect(recipientsOf(fkaOnB).map((r) => r.recipient)).toEqual(['fka:ost']);
      expect(fkaOnB.body).not.toMatch(/consent/i);
      expect((await call(`/api/v1/cases/${caseB}`, who.egs)).status).toBe(404);
      for (const whole of [who.sta, who.auditor]) {
        expect(recipientsOf(await call(`/api/v1/cases/${caseA}`, whole)).map((r) => r.role)).toEqual(['elterngeldstelle', 'familienkasse']);
        expect(recipientsOf(await call(`/api/v1/cases/${caseB}`, whole)).map((r) => r.role)).toEqual(['elterngeldstelle', 'familienkasse']);
      }
      expect((await call(`/api/v1/cases/${caseA}`, who.otherSta)).status).toBe(404);
    });

    it('summary: auditors only (every recipient\'s counts), never an agency or a Standesamt', async () => {
      expect((await call('/api/v1/summary', who.auditor)).status).toBe(200);
      for (const party of [who.egs, who.fka, who.sta]) {
        const r = await call('/api/v1/summary', party);
        expect(r.status).toBe(403);
        expect(r.headers['content-type']).toMatch(problemType);
      }
    });

    it('dashboard: the same pages for every role, each sees its own part', async () => {
      // A Standesamt: its own births and their whole story; another Standesamt: nothing of them.
      const home = await call('/', who.sta);
      expect(home.status).toBe(200);
      expect(home.body).toContain('Ihre Geburtsmeldungen');
      expect(home.body).toContain('11007007/G/2026/scope-a');
      for (const page of [`/dashboard/cases/${caseA}`, `/dashboard/deliveries/${fkaA}`, `/dashboard/deliveries/${egsA}`]) expect((await call(page, who.sta)).status, page).toBe(200);
      const other = await call('/', who.otherSta);
      expect(other.status).toBe(200);
      expect(other.body).not.toContain('scope-a');
      for (const page of [`/dashboard/cases/${caseA}`, `/dashboard/deliveries/${fkaA}`, `/dashboard/lookup?id=${fkaA}`, `/dashboard/entries/${fkaA}`]) expect((await call(page, who.otherSta)).status, page).toBe(404);
      // An agency: its own hand-offs only; the other agency's delivery is unknown, a case without its hand-off too.
      const egsHome = await call('/', who.egs);
      expect(egsHome.status).toBe(200);
      expect(egsHome.body).toContain(egsA);
      expect(egsHome.body).not.toContain(fkaA);
      expect((await call(`/dashboard/deliveries/${egsA}`, who.egs)).status).toBe(200);
      for (const page of [`/dashboard/deliveries/${fkaA}`, `/dashboard/lookup?id=${fkaA}`, `/dashboard/entries/${fkaA}`, `/dashboard/cases/${caseB}`, '/dashboard/offices/fka%3Aost', '/dashboard/offices/psw%3A11007007']) expect((await call(page, who.egs)).status, page).toBe(404);
      expect((await call('/dashboard/offices/egs%3A11000000', who.egs)).status).toBe(200);
      // Offices' pages: a Standesamt its own and its births' recipients; not another Standesamt's.
      expect((await call('/dashboard/offices/psw%3A11007007', who.sta)).status).toBe(200);
      expect((await call('/dashboard/offices/fka%3Aost', who.sta)).status).toBe(200);
      expect((await call('/dashboard/offices/psw%3A11007007', who.otherSta)).status).toBe(404);
      expect((await call('/dashboard/offices/fka%3Aost', who.otherSta)).status).toBe(404);
      const fkaOnB = await call(`/dashboard/cases/${caseB}`, who.fka);
      expect(fkaOnB.status).toBe(200);
      expect(fkaOnB.body).not.toMatch(/Einwilligung|Elterngeldstelle/);
      // The auditor: everything, the proof's download without the entry's content (its hash instead).
      const proof = await call(`/dashboard/entries/${fkaA}/proof.json`, who.auditor);
      if (proof.status === 200) {
        expect(proof.json()).toHaveProperty('leafHash');
        expect(JSON.stringify(proof.json()['entry'])).not.toMatch(/payload|Kunigundis/);
      }
    });
  });

  describe('the answers themselves', () => {
    it('every answer says nosniff: JSON, text, bytes, HTML, refusals', async () => {
      for (const [url, as] of [
        ['/api/v1/summary', who.auditor],
        ['/checkpoint', who.auditor],
        ['/tile/0/000.p/1', who.auditor],
        ['/', who.auditor],
        ['/openapi.json', who.auditor],
        ['/api/v1/summary', undefined],
        ['/no/such/route', who.auditor],
        ['/api/v1/summary', who.egs],
      ] as const) {
        expect((await call(url, as)).headers['x-content-type-options'], url).toBe('nosniff');
      }
    });

    it('the framework\'s own refusals are problems: unknown route 404, malformed URL 400, long path parameter and long URL 414, header overflow 431', async () => {
      const cases: [string, number, Record<string, string>?][] = [
        ['/no/such/route', 404],
        ['/api/v1/lookup/%', 400],
        ['/%zz', 400],
        [`/api/v1/lookup/${'a'.repeat(150)}`, 414],
        [`/api/v1/summary?pad=${'a'.repeat(3000)}`, 414],
        [`/api/v1/lookup/${'a'.repeat(20_000)}`, 431],
        ['/api/v1/proofs/inclusion/not-a-number', 400],
      ];
      for (const [url, status] of cases) {
        const r = await call(url, who.auditor);
        const label = `${url.slice(0, 40)} → ${r.status} ${r.headers['content-type']} ${r.body.slice(0, 120)}`;
        expect(r.status, label).toBe(status);
        expect(r.headers['content-type'], label).toMatch(problemType);
        expect(r.headers['x-content-type-options'], label).toBe('nosniff');
        const problem = r.json();
        expect(problem, label).toMatchObject({ status, type: expect.any(String), title: expect.any(String), requestId: expect.any(String) });
        // A malformed or overlong URL is not repeated back.
        if (status !== 404) expect(r.body, label).not.toContain('aaaaaaaaaa');
      }
    });

    it('the OpenAPI document declares every error answer as application/problem+json, /checkpoint as text and tiles as bytes', async () => {
      const doc = (await call('/openapi.json', who.auditor)).json() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
      let errorAnswers = 0;
      for (const [route, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          for (const [code, response] of Object.entries(operation.responses ?? {})) {
            if (Number(code) < 400) continue;
            errorAnswers++;
            expect(Object.keys(response.content ?? {}), `${method} ${route} ${code}`).toEqual(['application/problem+json']);
          }
          expect(Object.keys(operation.responses ?? {}), `${method} ${route}`).toEqual(expect.arrayContaining(['400', '401', '403', '404']));
        }
      }
      expect(errorAnswers).toBeGreaterThan(20);
      expect(Object.keys(doc.paths['/checkpoint']!['get']!.responses['200']!.content!)).toEqual(['text/plain; charset=utf-8']);
      const tile = Object.entries(doc.paths).find(([p]) => p.startsWith('/tile/'))![1]['get']!;
      expect(Object.keys(tile.responses['200']!.content!)).toEqual(['application/octet-stream']);
    });

    it('tiles only at their canonical C2SP path: zero-padded level or width, an x000/ element and %2F are 404', async () => {
      const size = Number((await call('/checkpoint', who.auditor)).body.split('\n')[1]);
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThan(256);
      expect((await call(`/tile/0/000.p/${size}`, who.auditor)).status).toBe(200);
      expect((await call(`/tile/entries/000.p/${size}`, who.auditor)).status).toBe(200);
      expect((await call('/tile/0/000.p/1', who.auditor)).status).toBe(200);
      for (const alias of [
        `/tile/00/000.p/${size}`,
        '/tile/0/000.p/01',
        '/tile/0/000.p/001',
        `/tile/0/x000/000.p/${size}`,
        `/tile/entries/x000/000.p/${size}`,
        `/tile/0%2F000.p/${size}`,
        `/tile/0/000.p%2F${size}`,
        `/tile/entries%2F000.p/${size}`,
        `/tile/%30/000.p/${size}`,
        `/tile/0/000.p/${size}/`,
      ]) {
        const r = await call(alias, who.auditor);
        expect(r.status, alias).toBe(404);
        expect(r.headers['content-type'], alias).toMatch(problemType);
      }
    });

    it('connections are limited per client certificate: beyond the limit a 429 problem, another certificate is unaffected', async () => {
      const agents = Array.from({ length: connectionLimit + 2 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
      try {
        const statuses: number[] = [];
        for (const agent of agents) {
          const r = await call('/api/v1/lookup/no-such-id', who.egs, {}, agent);
          statuses.push(r.status);
          if (r.status === 429) {
            expect(r.headers['content-type']).toMatch(problemType);
            expect(r.headers['connection']).toBe('close');
          }
        }
        expect(statuses.slice(0, connectionLimit)).toEqual(Array(connectionLimit).fill(404));
        expect(statuses.slice(connectionLimit)).toEqual([429, 429]);
        expect((await call('/api/v1/summary', who.auditor)).status).toBe(200);
      } finally {
        for (const agent of agents) agent.destroy();
      }
      // Closed again, the certificate is served.
      await until(async () => (await call('/api/v1/lookup/no-such-id', who.egs)).status === 404, { what: 'the connections closed' });
    });

    it('entry bundles are gzip-compressed when the client accepts gzip, and the same bytes otherwise', async () => {
      const size = Number((await call('/checkpoint', who.auditor)).body.split('\n')[1]);
      const url = `/tile/entries/000.p/${size}`;
      const plain = await call(url, who.auditor);
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers['content-type']).toBe('application/octet-stream');
      for (const accept of ['gzip', 'gzip, identity', 'br;q=1, gzip;q=0.5', '*']) {
        const zipped = await call(url, who.auditor, { 'accept-encoding': accept });
        expect(zipped.headers['content-encoding'], accept).toBe('gzip');
        expect(zipped.headers['vary']).toMatch(/accept-encoding/i);
        expect(gunzipSync(zipped.raw).equals(plain.raw), accept).toBe(true);
        expect(zipped.raw.length).toBeLessThan(plain.raw.length);
      }
      for (const accept of ['identity', 'gzip;q=0', 'br']) expect((await call(url, who.auditor, { 'accept-encoding': accept })).raw.equals(plain.raw), accept).toBe(true);
    });
  });
});
