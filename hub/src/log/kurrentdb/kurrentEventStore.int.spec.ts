// The conformance suite against KurrentDB: ELFE_KURRENTDB_URL when set, else a pinned image
// started with testcontainers where a container runtime exists; otherwise skipped, saying so.
import { existsSync } from 'node:fs';
import { afterAll } from 'vitest';
import { describeEventStoreConformance, type ConformanceTarget } from '../conformance/eventStoreConformance.ts';
import { KurrentEventStore } from './kurrentEventStore.ts';

/** Pinned server image; the client speaks to KurrentDB and EventStoreDB alike. */
export const kurrentImage = 'eventstore/eventstore:24.10';

async function containerRuntime(): Promise<boolean> {
  const socket = process.env.DOCKER_HOST ?? (existsSync('/var/run/docker.sock') ? 'unix:///var/run/docker.sock' : undefined);
  if (!socket) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([getContainerRuntimeClient(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000))]);
    return true;
  } catch {
    return false;
  }
}

let url = process.env.ELFE_KURRENTDB_URL;
let stop: (() => Promise<unknown>) | undefined;
let skipReason = 'no container runtime here and ELFE_KURRENTDB_URL is unset';
if (!url && (await containerRuntime())) {
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer(kurrentImage)
      .withEnvironment({ EVENTSTORE_INSECURE: 'true', EVENTSTORE_MEM_DB: 'true', EVENTSTORE_RUN_PROJECTIONS: 'None' })
      .withExposedPorts(2113)
      .withWaitStrategy(Wait.forHttp('/health/live', 2113).forStatusCode(204))
      .start();
    url = `kurrentdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`;
    stop = () => container.stop();
  } catch (error) {
    skipReason = `the KurrentDB container did not start: ${(error as Error).message}`;
  }
}
afterAll(async () => {
  await stop?.();
});

// The suite tolerates a server that already holds events (stream prefixes, relative positions).
const target: ConformanceTarget | undefined = url ? { open: () => KurrentEventStore.open(url!) } : undefined;
describeEventStoreConformance('KurrentDB', target, skipReason);
