// Work run concurrently across keys and in order within a key: a job waits for the earlier
// jobs of its key only. At most `limit` jobs are pending at once; `run` waits for room, so a
// producer that awaits it is held back (backpressure).

export class KeyedLanes {
  readonly #limit: number;
  readonly #tails = new Map<string, Promise<void>>();
  readonly #pending = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Queues `job` behind the earlier jobs of `key`; resolves once it is queued. A failed job fails the next `run` or `idle`. */
  async run(key: string, job: () => Promise<void>): Promise<void> {
    while (this.#pending.size >= this.#limit) await Promise.race(this.#pending);
    this.#throwIfFailed();
    const previous = this.#tails.get(key);
    const work: Promise<void> = (previous ? previous.then(job) : job()).catch((error: unknown) => {
      this.#failure ??= { error };
    });
    this.#tails.set(key, work);
    this.#pending.add(work);
    void work.finally(() => {
      this.#pending.delete(work);
      if (this.#tails.get(key) === work) this.#tails.delete(key);
    });
  }

  /** Waits for every queued job. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
