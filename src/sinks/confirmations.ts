/**
 * Healthy writes a backend took but cannot vouch for yet (TCP: bytes that may still sit in kernel
 * buffers when the peer resets), oldest first. Each write waits on a promise the source commit
 * holds: it resolves once the backend confirms the write, or once its entries, handed back in a
 * failed write's `resend`, are durable in rescue instead. Positions count entries written to the
 * backend since this runtime started, so the backend's `unconfirmed()` (the newest n entries)
 * says at once which writes are confirmed.
 */
export class Confirmations {
  private readonly waiting: Array<{ end: number; at: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  private written = 0;

  get size(): number {
    return this.waiting.length;
  }

  /** When the oldest unconfirmed write was made, or undefined when none waits. */
  get oldestAt(): number | undefined {
    return this.waiting[0]?.at;
  }

  /**
   * Counts a write of `n` entries made at `at`; returns the promise of its confirmation, or
   * undefined when the backend already vouches for it (`unconfirmed` does not cover it).
   */
  add(n: number, at: number, unconfirmed: number): Promise<void> | undefined {
    this.written += n;
    this.settle(unconfirmed);
    if (unconfirmed === 0) return undefined;
    const confirmed = new Promise<void>((resolve, reject) => this.waiting.push({ end: this.written, at, resolve, reject }));
    // a caller that never awaits it (the monitor group, a batch whose other write threw) must not
    // turn its failure (a rescue write failing at a stop) into an unhandled rejection
    confirmed.catch(() => undefined);
    return confirmed;
  }

  /** The backend holds `unconfirmed` unconfirmed entries now: every write before them is confirmed. */
  settle(unconfirmed: number): void {
    const confirmedThrough = this.written - unconfirmed;
    while (this.waiting.length && this.waiting[0]!.end <= confirmedThrough) this.waiting.shift()!.resolve();
  }

  /**
   * The backend failed and handed every unconfirmed entry back (`resend`): the waiting writes are
   * settled by where those entries went (`durable`: the rescue write, or a rejection).
   */
  handOver(durable: Promise<void>): void {
    for (const w of this.waiting.splice(0)) durable.then(w.resolve, w.reject);
  }
}
