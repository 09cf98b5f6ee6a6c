import type { SourceBatch } from './source.js';

/**
 * Hands batches from several producers (one per input file) to the one consumer of a source, at
 * most `capacity` waiting: a producer's `push` resolves once its batch fits, so a slow pipeline
 * stops the readers (backpressure) instead of buffering files in memory. After `close()` pushes
 * resolve at once (their batches are dropped: nothing was committed for them) and `pull` drains.
 */
export class BatchChannel {
  private readonly items: SourceBatch[] = [];
  private readonly pushers: Array<() => void> = [];
  private puller: ((b: SourceBatch | undefined) => void) | undefined;
  private closed = false;

  constructor(private readonly capacity = 2) {}

  push(b: SourceBatch): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.puller) {
      const p = this.puller;
      this.puller = undefined;
      p(b);
      return Promise.resolve();
    }
    this.items.push(b);
    if (this.items.length <= this.capacity) return Promise.resolve();
    return new Promise((resolve) => this.pushers.push(resolve));
  }

  /** The next batch, or undefined once closed and empty. */
  pull(): Promise<SourceBatch | undefined> {
    const b = this.items.shift();
    if (b) {
      this.pushers.shift()?.();
      return Promise.resolve(b);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.puller = resolve));
  }

  close(): void {
    this.closed = true;
    for (const p of this.pushers.splice(0)) p();
    const p = this.puller;
    this.puller = undefined;
    p?.(undefined);
  }
}
