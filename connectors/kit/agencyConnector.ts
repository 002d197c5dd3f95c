// An agency's connector process (Elterngeldstelle, Familienkasse) as ordered named start steps:
// its trust (the CA's files watched), the connection to the hub's NATS as itself, the delivery
// consumer, the milestone folder, the health door. When a step fails, those before it are
// stopped in reverse and the start fails naming it; `stop()` stops them all in reverse, each
// even when another fails. Its running parts (`deliveries`, `milestones`) report to one
// lifecycle: a failure is logged at error level with the component's name, counted, and shown
// by the health door until it works again.
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AgencyConsumer } from './agencyConsumer.ts';
import { openHealthDoor, type HealthDoor } from './healthDoor.ts';
import { createLifecycle, startSteps, type Lifecycle, type LifecycleLog } from './lifecycle.ts';
import { asLines, milestoneDirOf, watchMilestoneFolder } from './milestoneFolder.ts';
import { connectParty, openTrust, type OpenParty } from './party.ts';
import type { PartyConfig } from './partyConfig.ts';

export interface RunningAgencyConnector {
  readonly consumer: AgencyConsumer;
  readonly lifecycle: Lifecycle;
  /** The health door, when the configuration opens one (`health.port`). */
  readonly healthDoor?: HealthDoor;
  /** The start steps, in order. */
  readonly startSteps: readonly string[];
  stop(): Promise<void>;
}

export interface AgencyConnectorOptions {
  /** Where failures (error) and recoveries (warn) are told; default: the plain log. */
  readonly logger?: LifecycleLog;
  /** Test seam: the step of this name fails (default: `ELFE_FAIL_AT_START_STEP`). Never set in operation. */
  readonly failAt?: string;
}

/** Runs an agency's connector; `startConsumer` starts its delivery consumer on the open party (reporting to `lifecycle`). */
export async function runAgencyConnector(
  config: PartyConfig,
  log: (line: string) => void,
  options: AgencyConnectorOptions,
  startConsumer: (party: OpenParty, lifecycle: Lifecycle) => Promise<AgencyConsumer>,
): Promise<RunningAgencyConnector> {
  const logger = options.logger ?? { error: (_: Record<string, unknown>, message: string) => log(message), warn: (_: Record<string, unknown>, message: string) => log(message) };
  const lifecycle = createLifecycle({ logger });
  const steps = startSteps({
    failAt: options.failAt ?? (process.env['ELFE_FAIL_AT_START_STEP'] || undefined),
    onStopFailed: (f) => logger.error({ event: 'connector.stop-step-failed', step: f.step, error: f.error.message }, `stopping ${f.step} failed`),
  });
  // The CA's files are watched from here on: stopped on rollback too, or the process would not end.
  const trust = await steps.step('trust', () => {
    const opened = openTrust(config);
    return { value: opened, stop: () => opened.caFiles.stop() };
  });
  const party: OpenParty = await steps.step('nats-connection', async () => {
    const nc: NatsConnection = await connectParty(config, trust, log);
    return { value: { trust, nc }, stop: () => nc.close() };
  });
  const consumer = await steps.step('deliveries', async () => {
    const started = await startConsumer(party, lifecycle);
    return { value: started, stop: () => started.stop() };
  });
  // The case system's milestones (in Bearbeitung, bewilligt, …), dropped as files beside the inbox.
  await steps.step('milestones', () => {
    const { trust, nc } = party;
    const watching = watchMilestoneFolder({ nc, dvdv: config.dvdv, signer: trust.signer, hubVerifier: trust.verifier, hubDvdv: config.hub.dvdv, dir: milestoneDirOf(config.dir), log: asLines(log), lifecycle });
    return { value: watching, stop: () => watching.stop() };
  });
  const healthDoor = await steps.step('health-door', async () => {
    if (config.health === undefined) return { value: undefined };
    const door = await openHealthDoor({ port: config.health.port, party: config.dvdv, health: () => lifecycle.health() });
    return { value: door as HealthDoor | undefined, stop: () => door.stop() };
  });
  return {
    consumer,
    lifecycle,
    ...(healthDoor ? { healthDoor } : {}),
    startSteps: [...steps.names],
    async stop() {
      await steps.stop();
    },
  };
}

/** What every agency's consumer is started with, from its configuration and its open party. */
export const agencyConsumerOptionsOf = (config: PartyConfig, { trust, nc }: OpenParty, log: (line: string) => void, lifecycle: Lifecycle) => ({
  nc,
  dvdv: config.dvdv,
  signer: trust.signer,
  hubVerifier: trust.verifier,
  hubDvdv: config.hub.dvdv,
  decryptionKey: trust.decryptionKey,
  inboxDir: config.inboxDir ?? path.join(config.dir, 'inbox'),
  stateDir: path.join(config.dir, 'state'),
  maxDeliver: config.delivery.maxDeliver,
  ackWaitMs: config.delivery.ackWaitMs,
  log,
  lifecycle,
});
