// The hub's configuration, with embedded defaults that run out of the box: SQLite in
// ./data, a local nats-server when no URL is given, a routing table for the demo offices.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withoutComments } from '../../../connectors/kit/partyConfig.ts';
import { defaultMeldebehoerdeTable, MeldebehoerdeTableSchema, RoutingTableSchema } from '../routing/routingTable.ts';
import { routingProblems } from '../routing/routingCheck.ts';

export const defaultRoutingTable = {
  elterngeldstellen: [
    { dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' },
    { dvdv: 'egs:04011000', name: 'Elterngeldstelle Bremen' },
    { dvdv: 'egs:02000000', name: 'Elterngeldstelle Hamburg' },
  ],
  familienkassen: [
    { dvdv: 'fka:ost', name: 'Familienkasse Berlin-Brandenburg' },
    { dvdv: 'fka:nord', name: 'Familienkasse Nord' },
  ],
  rules: [
    { standesamtPrefix: '11', elterngeldstelle: 'egs:11000000', familienkasse: 'fka:ost' },
    { standesamtPrefix: '04', elterngeldstelle: 'egs:04011000', familienkasse: 'fka:nord' },
    { standesamtPrefix: '02', elterngeldstelle: 'egs:02000000', familienkasse: 'fka:nord' },
  ],
};

/** The Standesämter the hub knows: their header data appears in the XÖV messages written on their behalf. */
export const defaultStandesaemter = [
  { standesamtsnummer: '11000001', name: 'Standesamt Berlin-Mitte', phone: '030 9018-0', address: { street: 'Karl-Marx-Allee', houseNumber: '31', postcode: '10178', city: 'Berlin' } },
  { standesamtsnummer: '11007007', name: 'Standesamt Test', phone: '555-0100', address: { street: 'Teststraße', houseNumber: '1', postcode: '28195', city: 'Bremen' } },
  { standesamtsnummer: '04011000', name: 'Standesamt Bremen-Mitte', phone: '0421 361-0', address: { street: 'Hinter dem Schütting', houseNumber: '8', postcode: '28195', city: 'Bremen' } },
  { standesamtsnummer: '02000000', name: 'Standesamt Hamburg-Mitte', phone: '040 42854-0', address: { street: 'Johanniswall', houseNumber: '4', postcode: '20095', city: 'Hamburg' } },
];

const StandesamtSchema = z
  .object({
    standesamtsnummer: z.string().regex(/^\d{8}$/),
    name: z.string().min(1),
    phone: z.string().min(1),
    address: z.object({ street: z.string().optional(), houseNumber: z.string().optional(), postcode: z.string().regex(/^\d{5}$/), city: z.string().min(1) }).strict(),
  })
  .strict();
export type StandesamtEntry = z.infer<typeof StandesamtSchema>;

export const LogStoreSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite') }).strict(),
  z
    .object({
      kind: z.literal('postgres'),
      /** Connection string of the primary (a password from PGPASSWORD or ~/.pgpass). */
      url: z.string().min(1),
      schema: z.string().regex(/^[a-z_][a-z0-9_]{0,40}$/).default('elfe'),
      poolSize: z.number().int().min(2).max(64).default(4),
      synchronousCommit: z.enum(['on', 'remote_apply']).default('on'),
      /** The sequencer lease: a hub whose lease session is silent this long loses it (the server ends the session). */
      leaseTimeoutMs: z.number().int().min(1000).max(600_000).default(5000),
      /** How often a standing-by hub tries to take the lease. */
      leasePollMs: z.number().int().min(50).max(60_000).default(500),
    })
    .strict(),
]);
export type LogStoreConfig = z.infer<typeof LogStoreSchema>;

const dayMs = 24 * 60 * 60 * 1000;
const decisionDeadline = z.object({ decideWithinMs: z.number().int().positive(), escalateAfterMs: z.number().int().positive() }).strict();
/**
 * Decision deadlines after the receipt: an Elterngeldstelle usually decides within a few weeks
 * once the application is complete (overdue after 6 weeks, escalated after 12); the Familienkasse
 * decides Kindergeld faster (overdue after 4 weeks, escalated after 8).
 */
const decisionDefaults = {
  elterngeldstelle: { decideWithinMs: 42 * dayMs, escalateAfterMs: 84 * dayMs },
  familienkasse: { decideWithinMs: 28 * dayMs, escalateAfterMs: 56 * dayMs },
};

export const HubConfigSchema = z
  .object({
    /** The hub's own directory: its key and certificate (`key.pem`, `cert.pem`), the log signing key, log, tree and nats store. */
    dataDir: z.string().min(1).default('data/hub'),
    /**
     * Without a URL the hub runs a local nats-server (its store in `<dataDir>/nats`) with its
     * own TLS identity from `serverDir` (`key.pem`, `cert.pem`: a TLS server certificate of the
     * CA, not a signing identity).
     */
    nats: z
      .object({
        /** An external NATS: one URL, a comma-separated list or an array (the nodes of a cluster). */
        url: z
          .union([
            z.string().refine((s) => s.split(',').every((u) => URL.canParse(u.trim())), 'one NATS URL or a comma-separated list of them'),
            z.array(z.string().url()).min(1),
          ])
          .optional(),
        port: z.number().int().min(0).max(65535).optional(),
        serverDir: z.string().min(1).default('data/parties/nats-server'),
        /** JetStream replicas of the exchange's streams: 3 on a three-node cluster. */
        replicas: z.number().int().min(1).max(5).default(1),
        /**
         * The hub's own nats-server: connections one certificate may hold; a certificate holding
         * more loses all of them and is refused for `connectionLimitBlockSeconds` (the hub's own exempt).
         */
        maxConnectionsPerCertificate: z.number().int().min(1).max(10_000).default(16),
        connectionLimitBlockSeconds: z.number().int().min(1).max(86_400).default(60),
      })
      .strict()
      .default({ serverDir: 'data/parties/nats-server', replicas: 1, maxConnectionsPerCertificate: 16, connectionLimitBlockSeconds: 60 }),
    /** The trust anchors the CA publishes: its certificate, its CRL, and the certificates it issued (public). */
    trust: z
      .object({
        caCertFile: z.string().min(1).default('data/ca/ca.cert.pem'),
        crlFile: z.string().min(1).default('data/ca/crl.pem'),
        issuedDir: z.string().min(1).default('data/ca/issued'),
        /** How long after its nextUpdate the CRL in force still counts (logged loudly meanwhile); then no certificate is trusted until a new CRL. */
        crlGraceHours: z.number().min(0).max(24 * 90).default(24),
      })
      .strict()
      .default({ caCertFile: 'data/ca/ca.cert.pem', crlFile: 'data/ca/crl.pem', issuedDir: 'data/ca/issued', crlGraceHours: 24 }),
    log: z
      .object({
        checkpoint: z.object({ everyEntries: z.number().int().positive(), everyMs: z.number().int().nonnegative() }).strict().default({ everyEntries: 1000, everyMs: 5000 }),
        origin: z.string().min(1).default('elfe-hub/log'),
        /**
         * The event store: SQLite in the data directory (default), or PostgreSQL (a primary with
         * a synchronous standby) shared by an active and a standing-by hub, one sequencer at a
         * time by a lease. The Merkle tree stays a local file, rebuilt from the log when missing.
         */
        store: LogStoreSchema.default({ kind: 'sqlite' }),
      })
      .strict()
      .default({ checkpoint: { everyEntries: 1000, everyMs: 5000 }, origin: 'elfe-hub/log', store: { kind: 'sqlite' } }),
    standesaemter: z.array(StandesamtSchema).default(defaultStandesaemter),
    routing: RoutingTableSchema.default(RoutingTableSchema.parse(defaultRoutingTable)),
    /**
     * Which Meldebehörde may assign a case's IdNr: by the Standesamt's municipality (longest
     * `standesamtPrefix` of the Standesamtsnummer), else `default`. The default table names
     * `elfe exchange init`'s single Meldebehörde `mbh:demo` for every case.
     */
    meldebehoerden: MeldebehoerdeTableSchema.default(defaultMeldebehoerdeTable),
    delivery: z.object({ maxDeliver: z.number().int().min(1).max(100), ackWaitMs: z.number().int().min(100) }).strict().default({ maxDeliver: 5, ackWaitMs: 30_000 }),
    ingress: z
      .object({
        maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
        /** Tolerance for a submitter's clock running ahead: dates later than now plus this are refused (`date-in-future`). */
        clockSkewSeconds: z.number().int().min(0).max(86_400).default(300),
      })
      .strict()
      .default({ maxBytes: 256 * 1024, clockSkewSeconds: 300 }),
    /** Witnesses asked to cosign every checkpoint (C2SP tlog-witness): submission URL and cosignature/v1 verifier key. */
    witnesses: z
      .array(z.object({ url: z.string().url(), verifierKey: z.string().regex(/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/, 'a witness verifier key <name>+<hash>+<key>') }).strict())
      .default([]),
    /**
     * Retention: a birth case is erased (its key destroyed, `CaseErased` logged) this many days
     * after its last hand-off; checked every `checkEveryMs`.
     */
    /**
     * The case key store (default `<dataDir>/keys/cases.sqlite`). Hubs that stand by for each
     * other must use the same one (shared storage): the case keys are the only way to read a case.
     */
    keys: z.object({ caseKeyFile: z.string().min(1).optional() }).strict().default({}),
    retention: z
      .object({ afterLastHandoffDays: z.number().int().min(1).default(730), checkEveryMs: z.number().int().min(1000).default(3_600_000) })
      .strict()
      .default({ afterLastHandoffDays: 730, checkEveryMs: 3_600_000 }),
    /** Prometheus-style metrics on 127.0.0.1:<port>/metrics (0: any free port; absent: off). */
    metrics: z.object({ port: z.number().int().min(0).max(65535).optional() }).strict().default({}),
    /**
     * The HTTP API and dashboard (mutual TLS) on <host>:<port>; its TLS server identity in
     * `<dataDir>/api/` (`key.pem`, `cert.pem` for the host's names). Absent: off.
     */
    api: z
      .object({
        port: z.number().int().min(0).max(65535),
        host: z.string().min(1).default('127.0.0.1'),
        /** Open connections one client certificate may hold at once; beyond it the answer is 429 and the connection is closed. */
        maxConnectionsPerCertificate: z.number().int().min(1).max(10_000).default(16),
        /** The family's page (/sendungsverfolgung, no client certificate): code lookups per client address and minute; beyond it 429. */
        trackingLookupsPerMinute: z.number().int().min(1).max(100_000).default(10),
      })
      .strict()
      .optional(),
    /** Deadlines of a hand-off (from its scheduling to the recipient's receipt, from the receipt to the agency's decision) and whom to tell. */
    escalation: z
      .object({
        /**
         * Per agency kind: the decision milestone (bewilligt or abgelehnt; ausgezahlt implies one)
         * is overdue `decideWithinMs` after the agency acknowledged the hand-off, escalated after `escalateAfterMs`.
         */
        decision: z.object({ elterngeldstelle: decisionDeadline, familienkasse: decisionDeadline }).strict().default(decisionDefaults),
        acknowledgeWithinMs: z.number().int().positive().default(60 * 60 * 1000),
        escalateAfterMs: z.number().int().positive().default(3 * 24 * 60 * 60 * 1000),
        recipients: z.record(z.string(), z.object({ acknowledgeWithinMs: z.number().int().positive(), escalateAfterMs: z.number().int().positive() }).strict()).optional(),
        /** Webhook per responsible party (DVDV address): POSTed a JSON notice without personal data. */
        webhooks: z.record(z.string(), z.string().url()).default({}),
        /** How often dead letters are reconciled from the JetStream consumers' state. */
        reconcileEveryMs: z.number().int().positive().default(60_000),
        /** How often the deadlines are checked (default: a quarter of acknowledgeWithinMs, at least 200 ms and at most 30 s). */
        checkEveryMs: z.number().int().positive().optional(),
      })
      .strict()
      .default({ acknowledgeWithinMs: 60 * 60 * 1000, escalateAfterMs: 3 * 24 * 60 * 60 * 1000, webhooks: {}, reconcileEveryMs: 60_000, decision: decisionDefaults }),
  })
  .strict()
  // Routing overlaps and gaps stop the hub at start, named (warnings are logged; `elfe routing show`).
  .superRefine((config, ctx) => {
    for (const p of routingProblems(config)) if (p.level === 'error') ctx.addIssue({ code: 'custom', message: p.message, path: p.path.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k)) });
  });
export type HubConfig = z.infer<typeof HubConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid-config';
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/** Validates a configuration (`"//"` keys at any level are comments and dropped); defaults filled in. */
export function parseConfig(input: unknown): HubConfig {
  const parsed = HubConfigSchema.safeParse(withoutComments(input ?? {}));
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  return parsed.data;
}

/** Makes the configuration's paths absolute against `baseDir` (the configuration file's directory). */
export function resolvePaths(config: HubConfig, baseDir: string): HubConfig {
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...config,
    dataDir: abs(config.dataDir),
    nats: { ...config.nats, serverDir: abs(config.nats.serverDir) },
    trust: { ...config.trust, caCertFile: abs(config.trust.caCertFile), crlFile: abs(config.trust.crlFile), issuedDir: abs(config.trust.issuedDir) },
    keys: config.keys.caseKeyFile ? { caseKeyFile: abs(config.keys.caseKeyFile) } : {},
  };
}

/** Reads a JSON configuration file (or the embedded defaults), validated at start-up; paths absolute. */
export function loadConfig(file?: string, overrides: Partial<HubConfig> = {}): HubConfig {
  let json: unknown = {};
  if (file) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([{ path: file, message: `cannot read configuration: ${(error as Error).message}` }]);
    }
  }
  return resolvePaths(parseConfig({ ...(withoutComments(json) as object), ...overrides }), file ? path.dirname(path.resolve(file)) : process.cwd());
}
