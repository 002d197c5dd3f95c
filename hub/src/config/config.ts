// The hub's configuration, with embedded defaults that run out of the box: SQLite in
// ./data, a local nats-server when no URL is given, a routing table for the demo offices.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RoutingTableSchema } from '../routing/routingTable.ts';

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

export const HubConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('data'),
    /** Without a URL, `elfe start` runs a local nats-server with its store in the data directory. */
    nats: z.object({ url: z.string().url().optional(), port: z.number().int().min(0).max(65535).optional() }).strict().default({}),
    /** Local key directory (until certificates); default `<dataDir>/keys`. */
    keysDir: z.string().min(1).optional(),
    log: z
      .object({
        checkpoint: z.object({ everyEntries: z.number().int().positive(), everyMs: z.number().int().nonnegative() }).strict().default({ everyEntries: 1000, everyMs: 5000 }),
        origin: z.string().min(1).default('elfe-hub/log'),
      })
      .strict()
      .default({ checkpoint: { everyEntries: 1000, everyMs: 5000 }, origin: 'elfe-hub/log' }),
    standesaemter: z.array(StandesamtSchema).default(defaultStandesaemter),
    routing: RoutingTableSchema.default(RoutingTableSchema.parse(defaultRoutingTable)),
    delivery: z.object({ maxDeliver: z.number().int().min(1).max(100), ackWaitMs: z.number().int().min(100) }).strict().default({ maxDeliver: 5, ackWaitMs: 30_000 }),
    ingress: z.object({ maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024) }).strict().default({ maxBytes: 256 * 1024 }),
    /**
     * `pki` (default): certificates of the
     * exchange's CA for every signature, and delivery payloads encrypted (JWE) to the
     * recipient's certificate, TLS and per-role permissions on the local nats-server; the CA is
     * created in `pkiDir` (default `<dataDir>/pki`) on first use. `keys`: plain Ed25519 key
     * pairs from the key directory, no TLS, plain payloads (for comparison and development).
     */
    trust: z.object({ mode: z.enum(['keys', 'pki']), pkiDir: z.string().min(1).optional() }).strict().default({ mode: 'pki' }),
    /** Prometheus-style metrics on 127.0.0.1:<port>/metrics (0: any free port; absent: off). */
    metrics: z.object({ port: z.number().int().min(0).max(65535).optional() }).strict().default({}),
    /** Agency connectors run in the hub's process for every agency of the routing table. */
    connectors: z.object({ inProcess: z.boolean() }).strict().default({ inProcess: true }),
  })
  .strict();
export type HubConfig = z.infer<typeof HubConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid-config';
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

export function parseConfig(input: unknown): HubConfig {
  const parsed = HubConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  return parsed.data;
}

/** Reads a JSON configuration file (or the embedded defaults), validated at start-up. */
export function loadConfig(file?: string, overrides: Partial<HubConfig> = {}): HubConfig {
  let json: unknown = {};
  if (file) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([{ path: file, message: `cannot read configuration: ${(error as Error).message}` }]);
    }
  }
  return parseConfig({ ...(json as object), ...overrides });
}

export const keysDirOf = (config: HubConfig): string => path.resolve(config.keysDir ?? path.join(config.dataDir, 'keys'));

export const pkiDirOf = (config: HubConfig): string => path.resolve(config.trust.pkiDir ?? path.join(config.dataDir, 'pki'));
