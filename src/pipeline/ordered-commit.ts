/**
 * Commits a source's batches strictly in the order they were read, each only once its writes are
 * durable: a later batch that becomes durable first waits for the earlier ones, so a checkpoint (or
 * an ack) never passes a line that could still be lost. `whenAtMost(n)` gives backpressure: the
 * reader waits until no more than n batches are uncommitted, which bounds what a kill -9 repeats;
 * `whenYoungerThan(ms, now)` bounds it in time: the oldest uncommitted batch was read less than ms ago.
 * A durability failure is kept and rethrown to the reader; nothing after it is committed.
 */
export class OrderedCommit {
  private readonly queue: Array<{ done: boolean; commit: () => void; at: number }> = [];
  private failure: { err: Error } | undefined;
  private waiters: Array<{ n: number; resolve: () => void; reject: (e: unknown) => void }> = [];

  get pending(): number {
    return this.queue.length;
  }

  /** `at`: when the batch was read (any clock; `whenYoungerThan` compares against the same). */
  push(durable: Promise<void>, commit: () => void, at = 0): void {
    const entry = { done: false, commit, at };
    this.queue.push(entry);
    durable.then(
      () => {
        entry.done = true;
        this.drain();
      },
      (err: unknown) => {
        this.failure ??= { err: err instanceof Error ? err : new Error(String(err)) };
        this.wake();
      },
    );
  }

  /** Resolves once at most `n` batches are uncommitted (rejects on a durability failure). */
  whenAtMost(n: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.err);
    if (this.queue.length <= n) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve, reject }));
  }

  /**
   * Resolves once no uncommitted batch was read `ms` or more before `now()` (rejects on a durability
   * failure). Ages only grow, so this waits for the old batches to commit, never for a timer.
   */
  async whenYoungerThan(ms: number, now: () => number): Promise<void> {
    for (;;) {
      const oldest = this.queue[0];
      if (!oldest || now() - oldest.at < ms) return this.whenAtMost(Infinity);
      await this.whenAtMost(this.queue.length - 1);
    }
  }

  private drain(): void {
    while (this.queue[0]?.done && !this.failure) this.queue.shift()!.commit();
    this.wake();
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.failure) w.reject(this.failure.err);
      else if (this.queue.length <= w.n) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
