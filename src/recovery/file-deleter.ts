import { promises as fsp } from 'node:fs';
import { errnoCode } from '../errors.js';
import type { Clock, TimerHandle } from '../platform/clock.js';

/**
 * Deletes replayed rescue files off the replay path, in bursts. On an ext4 mounted with `discard`
 * an unlink of a file whose blocks reached the disk takes 0.1–2 ms (its blocks are trimmed), so
 * they run on the thread pool. Each unlink handed to an idle pool wakes a thread, and on a loaded
 * machine every wake-up can cost the replaying thread its CPU: with 10k small files, one unlink per
 * file was the largest per-file cost. So files are handed over `burst` at a time (or `maxDelayMs`
 * after the first one waits, or on drain): the pool's threads take a burst without sleeping in
 * between. Replay only needs the file gone eventually: its EOF is checkpointed first, so a file
 * that outlives a crash replays nothing. While a file waits its name stays taken, so no new rescue
 * file can get that name.
 */
export class FileDeleter {
  private waiting: Array<{ file: string; then: () => Promise<void> }> = [];
  private readonly pending = new Set<string>();
  private drained: Array<() => void> = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly onError: (file: string, err: unknown) => void,
    private readonly clock: Clock,
    private readonly burst = 32,
    private readonly maxDelayMs = 20,
  ) {}

  /** Queues `file` for deletion; `then` runs once it is gone. */
  delete(file: string, then: () => Promise<void>): void {
    this.pending.add(file);
    this.waiting.push({ file, then });
    if (this.waiting.length >= this.burst) this.flush();
    else this.timer ??= this.clock.setTimeout(() => this.flush(), this.maxDelayMs);
  }

  /** True while `file` waits for or is in deletion. */
  has(file: string): boolean {
    return this.pending.has(file);
  }

  /** Resolves once every queued file is deleted. */
  drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    this.flush();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private flush(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const burst = this.waiting;
    this.waiting = [];
    for (const { file, then } of burst) {
      void fsp
        .unlink(file)
        .catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
        })
        .then(then)
        .catch((err: unknown) => this.onError(file, err))
        .finally(() => {
          this.pending.delete(file);
          if (this.pending.size === 0) for (const d of this.drained.splice(0)) d();
        });
    }
  }
}
