// A Standesamt's (or the Meldebehörde's) submitting side as its own process: its own key and
// certificate, its durable outbox in its own directory, TLS to the hub's NATS as itself.
import path from 'node:path';
import { openParty } from '../../kit/party.ts';
import { PartyConfigError, type PartyConfig } from '../../kit/partyConfig.ts';
import type { Trust } from '../../kit/trust.ts';
import { lifecycleLogOf, StandesamtConnector, type ConnectorLog } from './standesamtConnector.ts';
import { createLifecycle, type Lifecycle } from '../../kit/lifecycle.ts';

export interface Submitter {
  readonly connector: StandesamtConnector;
  readonly trust: Trust;
  /** Its running parts (sending, and the watcher when one runs): failures logged with their name, counted, unhealthy until they work again. */
  readonly lifecycle: Lifecycle;
  close(): Promise<void>;
}

/** The outbox of a submitting party's configuration. */
export const outboxFileOf = (config: PartyConfig): string => path.join(config.dir, 'outbox.sqlite');

export async function openSubmitter(
  config: PartyConfig,
  log: (line: string) => void,
  options: { timeoutMs?: number; concurrency?: number; events?: ConnectorLog } = {},
): Promise<Submitter> {
  if (config.role !== 'standesamt' && config.role !== 'meldebehoerde') throw new PartyConfigError(`this configuration is for a ${config.role}, which submits nothing`);
  const { trust, nc } = await openParty(config, log);
  const { events, ...rest } = options;
  // One lifecycle for the party's running parts (sending, the drop folder's watcher): failures named, counted, shown unhealthy.
  const lifecycle = createLifecycle({ logger: lifecycleLogOf(events) });
  const connector = new StandesamtConnector({
    nc,
    signer: trust.signer,
    outboxFile: outboxFileOf(config),
    clockSkewMs: config.clockSkewSeconds * 1000,
    retentionMs: config.outbox.retentionHours * 3_600_000,
    // The hub's answers count only when the hub signed them.
    hubVerifier: trust.verifier,
    ...(events ? { log: events } : {}),
    component: lifecycle.component('sending'),
    ...rest,
  });
  return {
    connector,
    trust,
    lifecycle,
    async close() {
      await connector.close();
      await nc.close();
    },
  };
}
