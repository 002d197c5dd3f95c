// The HTTP API against the running hub (in-process, with its own nats-server): births are
// submitted over NATS as a Standesamt, no agency answers, so hand-offs go overdue and then
// escalated under the test's short deadlines; every endpoint is called over mutual TLS with
// party certificates of the exchange CA, and role scoping is checked.
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { createRequest, loadCredentials } from '../../connectors/kit/credentials.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { enrolRequest } from '../../hub/src/pki/pki.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { certificateSigner, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

interface Who {
  key: string;
  cert: string;
}
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => Record<string, unknown>;
}

describe.skipIf(!natsAvailable)('HTTP API', () => {
  let root: string;
  let hub: RunningHub;
  let base: string;
  let ca: string;
  const who: Record<string, Who> = {};
  const webhookCalls: unknown[] = [];
  let webhook: http.Server;
  let sta: NatsConnection;
  let mbh: NatsConnection;
  const idnr = idNrFrom('3657426180');
  const b = birthOf('11007007', 'api-1');

  const call = (method: string, url: string, as: Who | undefined, body?: unknown): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = https.request(`${base}${url}`, { method, ca, ...(as ? { key: as.key, cert: as.cert } : {}), headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString('latin1')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    });

  const submit = async (nc: NatsConnection, dvdv: string, payload: unknown, signer: Signer) =>
    JSON.parse(new TextDecoder().decode((await nc.request(submitSubjectOf(dvdv), signedBytes(payload, signer), { timeout: 10_000 })).data)) as { ok: boolean };
  const enrolParty = async (name: string, role: 'auditor' | 'cockpit', dvdv: string) => {
    const dir = path.join(root, 'parties', name);
    await createRequest(dir, { role, dvdv, name });
    const issued = await enrolRequest(path.join(root, 'ca'), readFileSync(path.join(dir, 'request.csr'), 'utf8'));
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: issued.certificatePem };
  };
  const partyTls = (name: string): Who => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return { key: readFileSync(c.keyFile, 'utf8'), cert: c.certificatePem };
  };
  const connectAs = async (name: string, role: 'standesamt' | 'meldebehoerde', dvdv: string) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return connect({ servers: hub.natsUrl, tls: { caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: c.certFile, keyFile: c.keyFile }, inboxPrefix: ownInboxPrefix(role, dvdv) });
  };

  beforeAll(async () => {
    webhook = http.createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        webhookCalls.push(JSON.parse(text));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
    const hookUrl = `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hook`;
    root = mkdtempSync(path.join(os.tmpdir(), 'elfe-api-'));
    const exchange = await provisionExchange(root, {
      natsPort: await freePort(),
      apiPort: 0,
      hub: { escalation: { acknowledgeWithinMs: 1500, escalateAfterMs: 4000, webhooks: { 'egs:11000000': hookUrl }, reconcileEveryMs: 60_000 } } as never,
    });
    hub = await startHub(loadConfig(exchange.hubConfigFile));
    base = hub.readSide.api!.url;
    ca = readFileSync(path.join(root, 'ca', 'ca.cert.pem'), 'utf8');
    who['auditor'] = await enrolParty('aud-test', 'auditor', 'aud:test');
    who['cockpit'] = await enrolParty('dsc-test', 'cockpit', 'dsc:test');
    who['sta'] = partyTls('sta-11007007');
    who['otherSta'] = partyTls('sta-04011000');
    who['egs'] = partyTls('egs-11000000');
    sta = await connectAs('sta-11007007', 'standesamt', 'psw:11007007');
    mbh = await connectAs('mbh-demo', 'meldebehoerde', 'mbh:demo');
    const staSigner = certificateSigner(loadCredentials(path.join(root, 'parties', 'sta-11007007')).privateKey, loadCredentials(path.join(root, 'parties', 'sta-11007007')).certificatePem);
    const mbhSigner = certificateSigner(loadCredentials(path.join(root, 'parties', 'mbh-demo')).privateKey, loadCredentials(path.join(root, 'parties', 'mbh-demo')).certificatePem);
    const producer = (dvdv: string, name: string, role: 'standesamt' | 'meldebehoerde') => ({ dvdv, role, signer: { identity: { name } } }) as never;
    expect((await submit(sta, 'psw:11007007', asProducer(registered(b), producer('psw:11007007', 'Standesamt Test', 'standesamt')), staSigner)).ok).toBe(true);
    expect((await submit(mbh, 'mbh:demo', asProducer(childIdNr(b, idnr), producer('mbh:demo', 'Meldebehörde (Demo)', 'meldebehoerde')), mbhSigner)).ok).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await sta?.close();
    await mbh?.close();
    await hub?.stop();
    webhook?.close();
  });

  it('refuses a caller without a client certificate, with a problem and a request id', async () => {
    const r = await call('GET', '/api/v1/summary', undefined);
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()['requestId']).toBe(r.headers['x-request-id']);
  });

  it('shows a case going overdue, then escalated, to its Standesamt; recorded in the log; the webhook is told', async () => {
    const caseId = hub.caseLog.caseStream(b.registerKey);
    await until(async () => {
      const r = await call('GET', `/api/v1/cases/${caseId}`, who['sta']);
      const recipients = r.status === 200 ? (r.json()['recipients'] as { role: string; escalated: boolean }[]) : [];
      return recipients.some((x) => x.role === 'elterngeldstelle' && x.escalated);
    }, { what: 'an escalated hand-off', timeoutMs: 30_000 });
    const status = (await call('GET', `/api/v1/cases/${caseId}`, who['sta'])).json();
    const egs = (status['recipients'] as { role: string; state: string; steps: { step: string }[]; nextParty: string }[]).find((x) => x.role === 'elterngeldstelle')!;
    expect(egs.state).toBe('delivered');
    expect(egs.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['registered', 'scheduled', 'delivered', 'overdue', 'escalated']));
    expect(egs.nextParty).toBe('egs:11000000');
    const types: string[] = [];
    for await (const e of hub.log.readAll()) types.push(e.type);
    expect(types).toEqual(expect.arrayContaining(['HandOffOverdue', 'HandOffEscalated']));
    await until(() => webhookCalls.length >= 2, { what: 'webhook calls' });
    expect(JSON.stringify(webhookCalls)).not.toContain(idnr);
    // Another Standesamt does not see the case; the agency sees only its own hand-off.
    expect((await call('GET', `/api/v1/cases/${caseId}`, who['otherSta'])).status).toBe(404);
    const forAgency = (await call('GET', `/api/v1/cases/${caseId}`, who['egs'])).json();
    expect((forAgency['recipients'] as { recipient: string }[]).every((x) => x.recipient === 'egs:11000000')).toBe(true);
    const metrics = await fetch(`http://127.0.0.1:${hub.metricsPort ?? 0}/metrics`).then((r) => r.text()).catch(() => '');
    if (hub.metricsPort !== undefined) expect(metrics).toMatch(/elfe_handoffs_late\{step="escalated"\} [1-9]/);
  }, 60_000);

  it('looks up a delivery, the register key and the case', async () => {
    const status = (await call('GET', `/api/v1/cases/${hub.caseLog.caseStream(b.registerKey)}`, who['auditor'])).json();
    const deliveryId = (status['recipients'] as { deliveryId?: string }[]).find((x) => x.deliveryId)!.deliveryId!;
    const d = (await call('GET', `/api/v1/lookup/${deliveryId}`, who['auditor'])).json();
    expect(d['kind']).toBe('delivery');
    expect(String(d['where'])).toMatch(/waiting for its signed receipt/);
    const k = (await call('GET', `/api/v1/lookup/${encodeURIComponent(`11007007/G/${b.registerKey.jahr}/api-1`)}`, who['sta'])).json();
    expect(k['kind']).toBe('register-key');
    expect((await call('GET', '/api/v1/lookup/no-such-id', who['auditor'])).status).toBe(404);
    expect((await call('GET', `/api/v1/lookup/${deliveryId}`, who['otherSta'])).status).toBe(404);
  });

  it('answers the Datenschutzcockpit by IdNr (POST only, cockpit role only)', async () => {
    const r = await call('POST', '/api/v1/transparency', who['cockpit'], { idnr });
    expect(r.status).toBe(200);
    const exchanges = r.json()['exchanges'] as { recipient: string; legalBasis: string; purpose: string; data: string }[];
    expect(exchanges.length).toBeGreaterThan(0);
    expect(exchanges[0]!.legalBasis).toMatch(/§/);
    // In German: the citizen reads it (the log keeps what routing recorded).
    for (const e of exchanges) {
      expect(e.purpose).toMatch(/Mitteilung der Geburt an die/);
      expect(e.legalBasis).not.toMatch(/data set modelled/);
      expect(e.data).toMatch(/Geburtsdatum/);
    }
    expect((await call('POST', '/api/v1/transparency', who['auditor'], { idnr })).status).toBe(403);
    const bad = await call('POST', '/api/v1/transparency', who['cockpit'], { idnr: '123' });
    expect(bad.status).toBe(400);
    expect(bad.body).not.toContain('123"');
    expect((await call('POST', '/api/v1/transparency', who['cockpit'], '{not json')).status).toBe(400);
    expect((await call('POST', '/api/v1/transparency', who['cockpit'], { idnr, pad: 'x'.repeat(100_000) })).status).toBe(413);
  });

  it('serves checkpoint, proofs and C2SP tiles', async () => {
    await hub.log.checkpointNow();
    const cp = (await call('GET', '/api/v1/checkpoint', who['sta'])).json();
    expect(Number(cp['treeSize'])).toBeGreaterThan(0);
    const text = await call('GET', '/checkpoint', who['auditor']);
    expect(text.body.split('\n')[0]).toBe('elfe-hub/log');
    const size = Number(text.body.split('\n')[1]);
    const incl = (await call('GET', '/api/v1/proofs/inclusion/0', who['auditor'])).json();
    expect(incl['leafIndex']).toBe(0);
    expect((await call('GET', '/api/v1/proofs/inclusion/0', who['sta'])).status).toBe(403);
    const first = (await hub.log.checkpoints())[0]!.treeSize;
    expect((await call('GET', `/api/v1/proofs/consistency?from=${first}`, who['auditor'])).json()['kind']).toBe('elfe-consistency-proof');
    const w = Math.min(size, 255);
    const tile = await call('GET', `/tile/0/000${size >= 256 ? '' : `.p/${w}`}`, who['auditor']);
    expect(tile.status).toBe(200);
    expect(Buffer.from(tile.body, 'latin1').length).toBe(32 * (size >= 256 ? 256 : w));
    const entries = await call('GET', `/tile/entries/000${size >= 256 ? '' : `.p/${w}`}`, who['auditor']);
    expect(entries.status).toBe(200);
    expect((await call('GET', '/tile/entries/000.p/1', who['sta'])).status).toBe(403);
    expect((await call('GET', '/tile/0/x999/000', who['auditor'])).status).toBe(404);
  });

  it('documents every route in an OpenAPI 3.1 document', async () => {
    const doc = (await call('GET', '/openapi.json', who['auditor'])).json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['/api/v1/cases/{caseId}', '/api/v1/lookup/{id}', '/api/v1/transparency', '/api/v1/checkpoint', '/api/v1/proofs/inclusion/{position}', '/api/v1/proofs/consistency', '/api/v1/summary', '/checkpoint']) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/tile/'))).toBe(true);
  });

  it('serves the dashboard under a strict CSP, German first, to the parties of the exchange', async () => {
    const r = await call('GET', '/', who['auditor']);
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.body).not.toMatch(/<script>|style=/);
    expect(r.body).toContain('<html lang="de">');
    expect(r.body).toContain('Die Vermittlung auf einen Blick');
    expect((await call('GET', '/static/htmx.min.js', who['auditor'])).status).toBe(200);
    expect((await call('GET', '/', who['sta'])).status).toBe(200);
    const look = await call('GET', `/dashboard/lookup?id=${encodeURIComponent(hub.caseLog.caseStream(b.registerKey))}`, who['auditor']);
    expect(look.body).toContain('Geburtsfall');
  });
});
