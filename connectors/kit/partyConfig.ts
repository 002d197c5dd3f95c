// The configuration of one party's process (a Standesamt, the Meldebehörde, an
// Elterngeldstelle, a Familienkasse): who it is, where its own key, certificate and state
// live, where the hub's NATS is, and which CA and revocation list it trusts. Relative paths
// are resolved against the configuration file's directory.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { hubIdentity, RoleSchema } from '../../contracts/index.ts';

const AddressSchema = z.object({ street: z.string().optional(), houseNumber: z.string().optional(), postcode: z.string().regex(/^\d{5}$/), city: z.string().min(1) }).strict();

export const PartyConfigSchema = z
  .object({
    role: RoleSchema,
    dvdv: z.string().regex(/^[a-z]{2,5}:[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/),
    name: z.string().min(1),
    /** The party's own directory: `key.pem` (0600), `cert.pem`, and its state (outbox, inbox, receipts). */
    dir: z.string().min(1),
    nats: z.object({ url: z.string().min(1) }).strict(),
    /** `crlGraceHours`: how long after its nextUpdate the CRL in force still counts (default 24, logged loudly meanwhile); then no certificate is trusted. */
    trust: z.object({ caCertFile: z.string().min(1), crlFile: z.string().min(1), crlGraceHours: z.number().min(0).max(24 * 90).optional() }).strict(),
    /** The hub whose signature on deliveries is accepted: its DVDV address, not merely any hub certificate. */
    hub: z.object({ dvdv: z.string().min(1) }).strict().default({ dvdv: hubIdentity.dvdv }),
    /** Agencies: where received deliveries are written (default `<dir>/inbox`). */
    inboxDir: z.string().min(1).optional(),
    delivery: z.object({ maxDeliver: z.number().int().min(1).max(100), ackWaitMs: z.number().int().min(100) }).strict().default({ maxDeliver: 5, ackWaitMs: 30_000 }),
    /** Elterngeldstelle: header data of the Standesämter on whose behalf 131011 is written. */
    standesaemter: z
      .array(z.object({ standesamtsnummer: z.string().regex(/^\d{8}$/), name: z.string().min(1), phone: z.string().min(1), address: AddressSchema }).strict())
      .default([]),
    /** Standesamt: how long a dropped 081020 waits for its 081021 before it is registered alone. */
    watch: z.object({ pairWindowSeconds: z.number().min(0).max(3600).default(5), intervalMs: z.number().int().min(50).max(60_000).default(1000) }).strict().default({ pairWindowSeconds: 5, intervalMs: 1000 }),
    /** Standesamt, Meldebehörde: answered submissions leave the outbox (and their personal data with them) this long after the hub's answer. */
    outbox: z.object({ retentionHours: z.number().min(0).max(24 * 366).default(24) }).strict().default({ retentionHours: 24 }),
    /** Tolerance for clocks running apart: a date later than now plus this is refused (`date-in-future`), as the hub does. */
    clockSkewSeconds: z.number().int().min(0).max(86_400).default(300),
    /**
     * Agencies: the health door, `GET /health` (200, or 503 naming the failing components) and
     * `GET /metrics` on 127.0.0.1:`port` (0: any free port, named in the `ready:` line). Absent: no door.
     */
    health: z.object({ port: z.number().int().min(0).max(65_535) }).strict().optional(),
    /** Seconds to wait for the hub's NATS at start before giving up (reported on every attempt). */
    startupTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .strict();
export type PartyConfig = z.infer<typeof PartyConfigSchema>;

export class PartyConfigError extends Error {
  override readonly name = 'PartyConfigError';
  readonly code = 'invalid-config';
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/**
 * A configuration without its comments: JSON has none, so a configuration explains itself in
 * keys named `"//"` (at any level), which are dropped before it is validated.
 */
export function withoutComments(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(withoutComments);
  if (json === null || typeof json !== 'object') return json;
  return Object.fromEntries(Object.entries(json).filter(([key]) => key !== '//').map(([key, value]) => [key, withoutComments(value)]));
}

/** Reads and validates a party's configuration file (`"//"` keys are comments); paths become absolute. */
export function loadPartyConfig(file: string): PartyConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PartyConfigError(`cannot read configuration ${file}: ${(error as Error).message}`);
  }
  const parsed = PartyConfigSchema.safeParse(withoutComments(json));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new PartyConfigError(`invalid configuration ${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const base = path.dirname(path.resolve(file));
  const abs = (p: string) => path.resolve(base, p);
  const c = parsed.data;
  return {
    ...c,
    dir: abs(c.dir),
    trust: { ...c.trust, caCertFile: abs(c.trust.caCertFile), crlFile: abs(c.trust.crlFile) },
    ...(c.inboxDir ? { inboxDir: abs(c.inboxDir) } : {}),
  };
}
