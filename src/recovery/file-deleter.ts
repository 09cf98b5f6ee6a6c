import { promises as fsp } from 'node:fs';
import { errnoCode } from '../errors.js';

/**
 * Deletes replayed rescue files off the replay path, a few at a time. On an ext4 mounted with
 * `discard` an unlink of a file whose blocks reached the disk takes about 2 ms (its blocks are
 * trimmed), one after the other; four in flight overlap to about 0.1 ms a file. Replay only needs
 * the file gone eventually: its EOF is checkpointed first, so a file that outlives a crash replays
 * nothing. While a file waits its name stays taken, so no new rescue file can get that name.
 */
export class FileDeleter {
  private readonly waiting: Array<{ file: string; then: () => Promise<void> }> = [];
  private readonly pending = new Set<string>();
  private active = 0;
  private drained: Array<() => void> = [];

  constructor(
    private readonly onError: (file: string, err: unknown) => void,
    private readonly concurrency = 4,
  ) {}

  /** Queues `file` for deletion; `then` runs once it is gone. */
  delete(file: string, then: () => Promise<void>): void {
    this.pending.add(file);
    this.waiting.push({ file, then });
    this.pump();
  }

  /** True while `file` waits for or is in deletion. */
  has(file: string): boolean {
    return this.pending.has(file);
  }

  /** Resolves once every queued file is deleted. */
  drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private pump(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      const { file, then } = this.waiting.shift()!;
      this.active++;
      void fsp
        .unlink(file)
        .catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
        })
        .then(then)
        .catch((err: unknown) => this.onError(file, err))
        .finally(() => {
          this.active--;
          this.pending.delete(file);
          if (this.pending.size === 0) for (const d of this.drained.splice(0)) d();
          this.pump();
        });
    }
  }
}
