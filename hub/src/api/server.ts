// The hub's HTTP API (Fastify 5, zod schemas → validation and OpenAPI 3.1): case status,
// look-up by any id, transparency by IdNr, checkpoints and proofs, the log as C2SP
// tlog-tiles, and the dashboard. Mutual TLS with the exchange's certificates; every answer
// carries a request id and `X-Content-Type-Options: nosniff`; every refusal is an RFC 9457
// problem (application/problem+json), the framework's own too (unknown route, malformed or
// too long URL, header overflow, validation), and the OpenAPI document declares them so. Tiles
// are served only at their canonical C2SP paths; entry bundles gzip-compressed when accepted.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TLSSocket } from 'node:tls';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ProofUnavailableError, type TransparentLog } from '../log/transparentLog.ts';
import type { EventStore } from '../log/eventStore.ts';
import type { ReadSide } from '../readside/readSide.ts';
import { lookUp, statusOfCase, transparency } from '../readside/queries.ts';
import { handOffStatus, type StatusContext } from '../readside/status.ts';
import { callerOf, isAgency, maySee, seesAll, type Caller, type RevocationList } from './access.ts';
import { dashboardRoutes } from './dashboard.ts';
import { isPublicTrackingRoute, trackingRoutes } from './tracking.ts';
import { CaseStatusSchema, CheckpointSchema, ConsistencyProofSchema, InclusionProofSchema, LookUpSchema, ProblemSchema, SummarySchema, TransparencyRequestSchema, TransparencySchema } from './schemas.ts';
import { entryBundle, hashTile, parseTilePath } from './tiles.ts';
import { erasedProblem, erasureRoutes, type ErasureOptions, type Problem } from './erasure.ts';
import type { ComponentHealth } from '../../../connectors/kit/lifecycle.ts';

export interface ApiOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  readonly revoked: RevocationList;
  readonly log: TransparentLog;
  /** The log's entries as the hub reads them (case data opened while its key exists): the dashboard's timelines; default `log`. */
  readonly events?: EventStore;
  readonly readSide: ReadSide;
  readonly relayPosition: () => number;
  /** The hub's running parts and whether each works (the health endpoint and the dashboard's banner). */
  readonly health?: () => readonly ComponentHealth[];
  /** The latest checkpoint's note with witness cosignatures. */
  readonly cosignedNote: (treeSize: number, note: string) => string;
  readonly certificates: () => readonly { serial: string; subject: string; daysLeft: number; expiresSoon: boolean; revoked: boolean }[];
  readonly logger: Logger;
  /** Erasure on the running hub, and the register key's keyed case id for 410 answers. */
  readonly erasure?: ErasureOptions;
  readonly now?: () => Date;
  /** Open connections one client certificate may hold at once (default 16); beyond it the answer is 429. */
  readonly maxConnectionsPerCertificate?: number;
  /** The family's page: code lookups per client address and minute (default 10). */
  readonly trackingLookupsPerMinute?: number;
}

export interface ApiServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
  ) {
    super(title);
  }
}

const problemType = (status: number) => `https://elfe-hub.invalid/problems/${status}`;

/** `instance: false`: the request's path is not repeated (a malformed or overlong URL). */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, status: number, title: string, detail?: string, options: { instance?: false } = {}): FastifyReply {
  return reply
    .code(status)
    .header('x-content-type-options', 'nosniff')
    .header('x-request-id', String(request.id))
    .type('application/problem+json')
    .send({ type: problemType(status), title, status, ...(detail ? { detail } : {}), ...(options.instance === false ? {} : { instance: request.url.split('?')[0] }), requestId: String(request.id) });
}

/** Longest request target served; longer ones are refused with 414 (beyond the header limit, 431). */
export const maxUrlLength = 2048;

/**
 * Errors of the HTTP parser, before there is a request (header overflow, malformed request
 * line): a problem written to the socket, then the connection is closed.
 */
function clientErrorProblem(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = status === 431 ? 'request header fields too large' : status === 408 ? 'request timeout' : 'malformed request';
  const requestId = randomUUID();
  const body = JSON.stringify({ type: problemType(status), title, status, requestId });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(error);
}

/** Whether the client accepts gzip (RFC 9110 Accept-Encoding: `gzip` or `*` with a q-value above 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return value.split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/**
 * The OpenAPI document as the API answers: every error answer is `application/problem+json`
 * (the schema library declares `application/json`), `/checkpoint` is text and tiles are bytes.
 */
function describeAnswers(doc: Record<string, unknown>): Record<string, unknown> {
  const paths = (doc['paths'] ?? {}) as Record<string, Record<string, { responses?: Record<string, { description?: string; content?: Record<string, unknown> }> }>>;
  for (const [route, operations] of Object.entries(paths)) {
    for (const operation of Object.values(operations)) {
      const responses = (operation.responses ??= {});
      for (const [code, response] of Object.entries(responses)) {
        if (!(code === 'default' || Number(code) >= 400) || !response.content) continue;
        const schema = Object.values(response.content)[0];
        response.content = { 'application/problem+json': schema };
      }
      // The two C2SP routes answer text and bytes (no response schema to serialise with): declared here.
      const problems = () => Object.fromEntries(errorStatuses.map((code) => [String(code), { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: problemJsonSchema } } }]));
      if (route === '/checkpoint')
        operation.responses = { '200': { description: 'C2SP checkpoint: the signed note with witness cosignatures', content: { 'text/plain; charset=utf-8': { schema: { type: 'string' } } } }, ...problems() };
      if (route.startsWith('/tile/'))
        operation.responses = {
          ...problems(),
          '200': {
          description: 'A hash tile (32-byte SHA-256 hashes) or an entry bundle (uint16 big-endian length-prefixed entries); entry bundles gzip-compressed (Content-Encoding: gzip) when the request accepts gzip',
          content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
          },
        };
    }
  }
  return doc;
}

const requireRoles = (request: FastifyRequest, ok: (c: Caller) => boolean): Caller => {
  const caller = request.caller!;
  if (!ok(caller)) throw new ProblemError(403, 'not allowed for this role', `a ${caller.role} may not call ${request.routeOptions.url ?? request.url}`);
  return caller;
};

const HealthSchema = z.object({
  healthy: z.boolean(),
  unhealthy: z.array(z.string()),
  components: z.array(z.object({ component: z.string(), healthy: z.boolean(), failures: z.number().int(), lastError: z.string().optional(), failingSince: z.string().optional() })),
});
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 410: ProblemSchema, 414: ProblemSchema, 429: ProblemSchema };
const refuse = (p: Problem): never => {
  throw new ProblemError(p.status, p.title, p.detail);
};
const errorStatuses = Object.keys(errors).map(Number);
const problemJsonSchema = z.toJSONSchema(ProblemSchema, { target: 'openapi-3.0' });

export async function startApiServer(options: ApiOptions): Promise<ApiServer> {
  const now = options.now ?? (() => new Date());
  const statusCtx = (): StatusContext => ({ relayPosition: options.relayPosition(), heldBack: (c, r) => options.readSide.heldBackReason(c, r) });
  const app = Fastify({
    https: { key: options.tls.key, cert: options.tls.cert, ca: options.tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    loggerInstance: options.logger,
    // Request lines name the route's pattern, never its URL: URLs carry register keys and ids.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: 16 * 1024,
    connectionTimeout: 10_000,
    requestTimeout: 10_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    // The router's own refusals (a malformed URL, a path parameter over its length) as problems, without repeating the URL.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode === 414 || error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      void sendProblem(request, reply, status, status === 414 ? 'URI too long' : 'malformed URL', undefined, { instance: false });
    },
    clientErrorHandler: clientErrorProblem,
  }).withTypeProvider<ZodTypeProvider>();
  // Connections per client certificate (by its SHA-256 fingerprint; without one, by address):
  // one party cannot hold the API's sockets. A connection beyond the limit gets a 429 problem
  // for its request and is closed.
  const maxPerCertificate = options.maxConnectionsPerCertificate ?? 16;
  const openConnections = new Map<string, number>();
  const overLimit = new WeakSet<object>();
  app.server.on('secureConnection', (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate(false) as { fingerprint256?: string } | null;
    const key = peer?.fingerprint256 ? `cert:${peer.fingerprint256}` : `addr:${socket.remoteAddress ?? ''}`;
    const count = (openConnections.get(key) ?? 0) + 1;
    openConnections.set(key, count);
    if (count > maxPerCertificate) overLimit.add(socket);
    socket.once('close', () => {
      const left = (openConnections.get(key) ?? 1) - 1;
      if (left <= 0) openConnections.delete(key);
      else openConnections.set(key, left);
    });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'elfe-hub API', version: '1', description: 'Status of hand-offs, look-up by id, transparency for the Datenschutzcockpit, checkpoints and proofs of the exchange log. Mutual TLS with a certificate of the exchange CA.' },
      // OpenAPI 3.1's mutualTLS scheme; the plugin's types know only 3.0's kinds.
      components: { securitySchemes: { mutualTLS: { type: 'mutualTLS', description: 'a party certificate of the exchange CA' } as unknown as { type: 'openIdConnect'; openIdConnectUrl: string } } },
      security: [{ mutualTLS: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (documents) => ('openapiObject' in documents ? (describeAnswers(documents.openapiObject as Record<string, unknown>) as typeof documents.openapiObject) : documents.swaggerObject),
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', String(request.id));
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    if (overLimit.has(request.raw.socket)) {
      void reply.header('connection', 'close');
      return sendProblem(request, reply, 429, 'too many connections', `at most ${maxPerCertificate} open connections per client certificate; close some and retry`);
    }
    if (request.url.length > maxUrlLength) return sendProblem(request, reply, 414, 'URI too long', `request targets are at most ${maxUrlLength} characters`, { instance: false });
    // The family's page (Sendungsverfolgung, tracking.ts) is public: no client certificate; it limits lookups per client itself.
    if (isPublicTrackingRoute(request.routeOptions.url)) return undefined;
    const who = callerOf(request.raw.socket as TLSSocket, options.revoked);
    if (!who.success) return sendProblem(request, reply, who.error.status, who.error.title, who.error.detail);
    request.caller = who.data;
    return undefined;
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (error instanceof ProblemError) return sendProblem(request, reply, error.status, error.title, error.detail);
    if (error instanceof ProofUnavailableError) return sendProblem(request, reply, 404, 'proof unavailable', error.message);
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: { name: error.name, message: error.message } }, 'request failed');
    // Validation messages may echo input (an IdNr): never repeat them.
    return sendProblem(request, reply, status, status === 500 ? 'internal error' : status === 413 ? 'request body too large' : 'malformed request', status === 500 ? undefined : error.validation ? 'the request does not match the API schema' : undefined);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, 404, 'not found'));

  const store = options.readSide.store;
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ event: 'http.response', method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'answered');
  });
  if (options.erasure) await app.register(erasureRoutes, { store, erasure: options.erasure, errors, refuse });

  app.get('/api/v1/cases/:caseId', { schema: { summary: 'Status of a birth case per recipient', params: z.object({ caseId: z.string().max(200) }), response: { 200: CaseStatusSchema, ...errors } } }, async (request) => {
    const caller = request.caller!;
    const erased = erasedProblem(store, request.params.caseId, caller, options.erasure);
    if (erased) refuse(erased);
    const status = statusOfCase(store, statusCtx(), request.params.caseId);
    if (!status) throw new ProblemError(404, 'no such case');
    if (seesAll(caller) || maySee(caller, { standesamt: status.standesamt })) return status;
    // An agency: only its own hand-offs (no held-back entry of another role, no other agency's state).
    const mine = isAgency(caller) ? status.recipients.filter((r) => r.recipient === caller.dvdv) : [];
    if (mine.length === 0) throw new ProblemError(404, 'no such case');
    return { ...status, recipients: mine };
  });

  app.get('/api/v1/lookup/:id', { schema: { summary: 'What an id is (message, delivery, receipt, case, register key, checkpoint), where it stands and why', params: z.object({ id: z.string().max(200) }), response: { 200: LookUpSchema, ...errors } } }, async (request) => {
    const caller = request.caller!;
    // An agency sees only its own hand-offs: ids of another recipient's hand-off are unknown to it,
    // and a case's answer names only its own (not the other agency's state or "no consent").
    const agency = isAgency(caller);
    const erased = erasedProblem(store, request.params.id, caller, options.erasure);
    if (erased) refuse(erased);
    const answer = lookUp(store, statusCtx(), request.params.id, agency ? (recipient) => recipient === caller.dvdv : undefined);
    const visible =
      answer &&
      (seesAll(caller) ||
        maySee(caller, { standesamt: answer.standesamt, recipient: answer.recipient }) ||
        (agency && answer.caseId !== undefined && store.handOffsOf(answer.caseId).some((h) => h.recipient === caller.dvdv)));
    // The same answer for unknown and not visible: an id's existence is not disclosed.
    if (!answer || !visible) throw new ProblemError(404, 'unknown id');
    return answer;
  });

  app.post('/api/v1/transparency', { schema: { summary: 'Datenschutzcockpit: which bodies received which data about the person with this IdNr (last two years)', body: TransparencyRequestSchema, response: { 200: TransparencySchema, ...errors } } }, async (request) => {
    requireRoles(request, (c) => c.role === 'cockpit');
    return transparency(store, statusCtx(), request.body.idnr, now());
  });

  app.get('/api/v1/summary', { schema: { summary: 'The exchange at a glance (operators and auditors)', response: { 200: SummarySchema, ...errors } } }, async (request) => {
    requireRoles(request, seesAll);
    return summary(options.readSide, statusCtx());
  });

  app.get('/api/v1/health', { schema: { summary: 'The hub\'s running parts: 200 while all work, 503 while one failed and has not worked again since (operators)', response: { 200: HealthSchema, 503: HealthSchema, ...errors } } }, async (request, reply) => {
    requireRoles(request, seesAll);
    const components = options.health?.() ?? [];
    const healthy = components.every((c) => c.healthy);
    return reply.code(healthy ? 200 : 503).send({ healthy, unhealthy: components.filter((c) => !c.healthy).map((c) => c.component), components: [...components] });
  });

  app.get('/api/v1/checkpoint', { schema: { summary: 'The latest signed checkpoint with witness cosignatures', response: { 200: CheckpointSchema, ...errors } } }, async () => {
    const latest = options.log.latestCheckpoint();
    if (!latest) throw new ProblemError(404, 'no checkpoint yet');
    return { treeSize: latest.treeSize, note: options.cosignedNote(latest.treeSize, latest.note), logPosition: latest.position };
  });

  app.get('/api/v1/proofs/inclusion/:position', { schema: { summary: 'Inclusion proof of a log entry (auditors)', params: z.object({ position: z.coerce.number().int().nonnegative() }), querystring: z.object({ treeSize: z.coerce.number().int().positive().optional() }), response: { 200: InclusionProofSchema, ...errors } } }, async (request) => {
    requireRoles(request, seesAll);
    const proof = await options.log.inclusionProof(request.params.position, request.query.treeSize);
    return { ...proof, entry: proof.entry as unknown as Record<string, unknown> };
  });

  app.get('/api/v1/proofs/consistency', { schema: { summary: 'Consistency proof between two checkpoints', querystring: z.object({ from: z.coerce.number().int().nonnegative(), to: z.coerce.number().int().positive().optional() }), response: { 200: ConsistencyProofSchema, ...errors } } }, async (request) => options.log.consistencyProof(request.query.from, request.query.to));

  // C2SP tlog-tiles.
  app.get('/checkpoint', { schema: { summary: 'C2SP tlog-tiles checkpoint (signed note, with cosignatures)', produces: ['text/plain; charset=utf-8'] } }, async (_request, reply) => {
    const latest = options.log.latestCheckpoint();
    if (!latest) throw new ProblemError(404, 'no checkpoint yet');
    return reply.type('text/plain; charset=utf-8').send(options.cosignedNote(latest.treeSize, latest.note));
  });
  app.get('/tile/*', { schema: { summary: 'C2SP tlog-tiles: hash tiles /tile/<L>/<N>[.p/<W>] and entry bundles /tile/entries/<N>[.p/<W>], canonical paths only', produces: ['application/octet-stream'], params: z.object({ '*': z.string().max(100) }) } }, async (request, reply) => {
    // The path as sent, not as decoded: `%2F` and other encodings are no tile path; nor are
    // aliases (leading zeroes, an `x000/` element): one tile, one URL.
    const sent = request.url.split('?')[0]!;
    const tile = sent.startsWith('/tile/') ? parseTilePath(sent.slice('/tile/'.length)) : undefined;
    if (!tile) throw new ProblemError(404, 'not a tile path');
    const latest = options.log.latestCheckpoint();
    if (!latest) throw new ProblemError(404, 'no checkpoint yet');
    let body: Buffer | undefined;
    if (tile.level === 'entries') {
      // Entries are the log as stored: auditors only until personal data is ciphertext.
      requireRoles(request, seesAll);
      const bundle = await entryBundle(tile, latest.treeSize, options.log);
      if (bundle === 'too-large') throw new ProblemError(404, 'an entry of this tile exceeds 65535 bytes and cannot be served as a C2SP bundle');
      body = bundle;
    } else body = hashTile({ ...tile, level: tile.level }, latest.treeSize, (l, i) => options.log.treeNode(l, i));
    if (!body) throw new ProblemError(404, 'tile not covered by the latest checkpoint');
    void reply.header('cache-control', tile.width === 256 ? 'public, max-age=31536000, immutable' : 'no-store');
    // C2SP: entry bundles SHOULD be compressed at the HTTP layer.
    if (tile.level === 'entries') {
      void reply.header('vary', 'accept-encoding');
      if (acceptsGzip(request.headers['accept-encoding'])) {
        body = gzipSync(body);
        void reply.header('content-encoding', 'gzip');
      }
    }
    return reply.type('application/octet-stream').send(body);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const htmx = readFileSync(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'utf8');
  await app.register(dashboardRoutes, { readSide: options.readSide, statusCtx, htmx, log: options.log, events: options.events ?? options.log, cosignedNote: options.cosignedNote, certificates: options.certificates, ...(options.erasure ? { erasure: options.erasure } : {}), ...(options.health ? { health: options.health } : {}) });

  await app.register(trackingRoutes, { readSide: options.readSide, statusCtx, log: options.log, cosignedNote: options.cosignedNote, now, ...(options.trackingLookupsPerMinute ? { lookupsPerMinute: options.trackingLookupsPerMinute } : {}) });

  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  return {
    port,
    url: `https://${options.host ?? '127.0.0.1'}:${port}`,
    stop: () => app.close(),
  };
}

/** Counts and the late hand-offs, overdue and escalated first. */
export function summary(readSide: ReadSide, ctx: StatusContext) {
  const store = readSide.store;
  return {
    counts: store.counts(),
    birthsPerDay: store.birthsPerDay(14),
    handOffsByState: store.handOffsByState(),
    late: store.handOffsWhere({ lateOnly: true }, 50).map((h) => ({ ...handOffStatus(h, ctx), caseId: h.caseId })),
  };
}

export const apiIdentityExists = (dir: string): boolean => existsSync(`${dir}/cert.pem`) && existsSync(`${dir}/key.pem`);
