/**
 * Commits a source's batches strictly in the order they were read, each only once its writes are
 * durable and confirmed: a later batch that settles first waits for the earlier ones, so a
 * checkpoint (or an ack) never passes a line that could still be lost.
 *
 * Two promises per batch, because they bound different things. `durable` (written to the backend
 * or durable in rescue) gives backpressure: `whenAtMost(n)` lets the reader go on once no more than
 * n batches are not durable yet, which bounds what a kill -9 repeats, and `whenYoungerThan(ms, now)`
 * bounds it in time. `confirmed` (a TCP peer vouched for by the kernel's queues or its clean close,
 * or the lines rescued after all) only holds the commit back: the reader does not wait for it,
 * since confirmation needs more bytes written or an idle moment. `whenCommitted()` waits for both.
 * A failure of either is kept and rethrown to the reader; nothing after it is committed.
 */
interface Entry {
  durable: boolean;
  settled: boolean;
  commit: () => void;
  at: number;
}

export class OrderedCommit {
  private readonly queue: Entry[] = [];
  private notDurable = 0;
  private failure: { err: Error } | undefined;
  private waiters: Array<{ ready: () => boolean; resolve: () => void; reject: (e: unknown) => void }> = [];

  /** Batches not committed yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** `at`: when the batch was read (any clock; `whenYoungerThan` compares against the same). */
  push(durable: Promise<void>, commit: () => void, at = 0, confirmed?: Promise<void>): void {
    const entry: Entry = { durable: false, settled: false, commit, at };
    this.queue.push(entry);
    this.notDurable++;
    const fail = (err: unknown): void => {
      this.failure ??= { err: err instanceof Error ? err : new Error(String(err)) };
      this.wake();
    };
    durable.then(() => {
      entry.durable = true;
      this.notDurable--;
      this.wake();
    }, fail);
    (confirmed ? Promise.all([durable, confirmed]) : durable).then(() => {
      entry.settled = true;
      this.drain();
    }, fail);
  }

  /** Resolves once at most `n` batches are not durable yet (rejects on a failure). */
  whenAtMost(n: number): Promise<void> {
    return this.when(() => this.notDurable <= n);
  }

  /** Resolves once every batch pushed is committed (rejects on a failure). */
  whenCommitted(): Promise<void> {
    return this.when(() => this.queue.length === 0);
  }

  /**
   * Resolves once no batch that is not durable yet was read `ms` or more before `now()` (rejects on
   * a failure). Ages only grow, so this waits for the old batches' writes, never for a timer.
   */
  async whenYoungerThan(ms: number, now: () => number): Promise<void> {
    for (;;) {
      const oldest = this.queue.find((e) => !e.durable);
      if (!oldest || now() - oldest.at < ms) return this.whenAtMost(Infinity);
      await this.when(() => oldest.durable);
    }
  }

  private when(ready: () => boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.err);
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ ready, resolve, reject }));
  }

  private drain(): void {
    while (this.queue[0]?.settled && !this.failure) this.queue.shift()!.commit();
    this.wake();
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.failure) w.reject(this.failure.err);
      else if (w.ready()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
