// A party's process at start: its own trust (key, certificate, the CA and its CRL) and a
// TLS connection to the hub's NATS as itself.
import type { NatsConnection } from '@nats-io/transport-node';
import { inboxPrefixOf } from '../../contracts/index.ts';
import { connectWithRetry } from './natsConnection.ts';
import { PartyConfigError, type PartyConfig } from './partyConfig.ts';
import { certificateTrust, type Trust } from './trust.ts';

export interface OpenParty {
  readonly trust: Trust;
  readonly nc: NatsConnection;
}

/** The party's own trust: its key and certificate, the CA and its CRL (watched until `trust.caFiles.stop()`). */
export function openTrust(config: PartyConfig): Trust {
  const grace = config.trust.crlGraceHours;
  const trust = certificateTrust({ dir: config.dir, caCertFile: config.trust.caCertFile, crlFile: config.trust.crlFile, ...(grace === undefined ? {} : { crlGraceMs: grace * 3600_000 }) });
  if (trust.identity.dvdv !== config.dvdv || trust.identity.role !== config.role) {
    trust.caFiles.stop();
    throw new PartyConfigError(`the certificate in ${config.dir} is for ${trust.identity.role} ${trust.identity.dvdv}, the configuration names ${config.role} ${config.dvdv}`);
  }
  return trust;
}

/** A TLS connection to the hub's NATS as the party itself. */
export function connectParty(config: PartyConfig, trust: Trust, log: (line: string) => void): Promise<NatsConnection> {
  return connectWithRetry({ servers: config.nats.url, name: `${config.role} ${config.dvdv}`, tls: trust.tls, inboxPrefix: inboxPrefixOf(config.dvdv) }, log, config.startupTimeoutSeconds);
}

export async function openParty(config: PartyConfig, log: (line: string) => void): Promise<OpenParty> {
  const trust = openTrust(config);
  return { trust, nc: await connectParty(config, trust, log) };
}
