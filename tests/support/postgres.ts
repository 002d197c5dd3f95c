// PostgreSQL for the tests: the clusters come from hub/src/runner/postgresCluster.ts (shared with
// the bench); what the durability suites check of a store after a failover is here.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import type { EventStore, StoredEvent } from '../../hub/src/log/eventStore.ts';
export * from '../../hub/src/runner/postgresCluster.ts';

export interface Ack {
  readonly stream: string;
  readonly revision: number;
  readonly eventId: string;
}

/** A child process appending to `url` (tests/support/postgresAppender.ts) and what it acknowledged. */
export class Appender {
  readonly acked: Ack[] = [];
  readonly exited: Promise<void>;
  readonly #child: ChildProcess;
  #buffer = '';
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor(url: string, schema: string) {
    const repoRoot = path.resolve(import.meta.dirname, '../..');
    this.#child = spawn(process.execPath, [path.join(repoRoot, 'bin/run-ts.js'), path.join(repoRoot, 'tests/support/postgresAppender.ts'), url, schema], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString();
      const lines = this.#buffer.split('\n');
      this.#buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [stream, revision, eventId] = line.split(' ');
        this.acked.push({ stream: stream!, revision: Number(revision), eventId: eventId! });
      }
      this.#waiters = this.#waiters.filter((w) => (this.acked.length >= w.n ? (w.resolve(), false) : true));
    });
    // 'close', not 'exit': every line the child wrote has been read by then.
    this.exited = new Promise((resolve) => this.#child.once('close', () => resolve()));
  }

  /** Resolves once `n` appends were acknowledged; rejects if the child ends first. */
  acknowledged(n: number): Promise<void> {
    if (this.acked.length >= n) return Promise.resolve();
    return Promise.race([
      new Promise<void>((resolve) => this.#waiters.push({ n, resolve })),
      this.exited.then(() => {
        if (this.acked.length < n) throw new Error(`appender ended after ${this.acked.length} of ${n} acknowledgements`);
      }),
    ]);
  }

  /** SIGKILL; resolves when the child is gone and its last output read. */
  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * What a log must show after a crash: every acknowledged append at the revision it was
 * acknowledged with, positions 0..n-1 without a gap, and each writer's events in the order it
 * appended them. Returns the events read, for further checks.
 */
export async function expectSurvivors(store: EventStore, acked: readonly Ack[]): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const e of store.readAll()) all.push(e);
  expect(all.map((e) => e.position)).toEqual(all.map((_, i) => i));
  expect(await store.size()).toBe(all.length);
  const byId = new Map(all.map((e) => [e.eventId, e]));
  const lost = acked.filter((a) => byId.get(a.eventId)?.stream !== a.stream || byId.get(a.eventId)?.streamRevision !== a.revision);
  expect(lost).toEqual([]);
  const streams = new Map<string, StoredEvent[]>();
  for (const e of all) streams.set(e.stream, [...(streams.get(e.stream) ?? []), e]);
  for (const events of streams.values()) {
    expect(events.map((e) => e.streamRevision)).toEqual(events.map((_, i) => i));
    // One writer of one appender run: its counter rises with the revision.
    const runs = new Map<number, number[]>();
    for (const e of events) {
      const { run, i } = e.data as { run: number; i: number };
      runs.set(run, [...(runs.get(run) ?? []), i]);
    }
    for (const counters of runs.values()) expect(counters).toEqual(counters.map((_, k) => k));
  }
  return all;
}
