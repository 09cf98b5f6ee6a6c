import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../platform/clock.js';

export type WhenFull = 'block' | 'drop_newest';

export interface RescueBudgetOptions {
  dir: string;
  /** 0 = no cap: the budget only measures. */
  maxBytes: number;
  whenFull: WhenFull;
  clock: Clock;
  /** How often the directory is measured again (replay deletes files; other processes write). */
  scanMs?: number;
  /** A graceful stop: a blocked write stops waiting (it is written past the cap, never dropped). */
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

/**
 * `rescue.max_bytes` (SPEC section 4): the bytes on disk under the rescue directory, all files
 * counted (rescue files of every sink, recover.lock, dead/). Measured at start, then kept current
 * by the writers' own appends and a periodic rescan, which sees the space `wprescue` frees by
 * deleting replayed files. `fits(n)` says whether n more bytes stay within the cap; a batch larger
 * than the whole cap fits an empty directory (else it could never be written). `whenSpace(n)`
 * resolves once they fit with a tenth of the cap to spare (after a rescan), or at once on a
 * graceful stop.
 */
export class RescueBudget {
  private used = 0;
  private timer: TimerHandle | undefined;
  private waiters: Array<{ n: number; resolve: (reserved: boolean) => void }> = [];
  private stopped = false;

  constructor(private readonly o: RescueBudgetOptions) {
    o.signal?.addEventListener('abort', () => this.release(), { once: true });
  }

  get bytes(): number {
    return this.used;
  }

  get maxBytes(): number {
    return this.o.maxBytes;
  }

  get whenFull(): WhenFull {
    return this.o.whenFull;
  }

  start(): void {
    this.rescan();
    const tick = (): void => {
      if (this.stopped) return;
      this.rescan();
      this.timer = this.o.clock.setTimeout(tick, this.o.scanMs ?? 1000);
    };
    this.timer = this.o.clock.setTimeout(tick, this.o.scanMs ?? 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.release();
  }

  fits(n: number): boolean {
    return this.o.maxBytes === 0 || this.used + n <= this.o.maxBytes || this.used === 0;
  }

  /**
   * A blocked write resumes only once a tenth of the cap is free besides its own bytes: else a
   * directory hovering at the cap would pause, release and reopen a rescue file for every batch.
   */
  private roomAfterFull(n: number): boolean {
    return this.used === 0 || this.used + n <= this.o.maxBytes - this.o.maxBytes / 10;
  }

  /** Counts bytes this process just wrote. */
  add(n: number): void {
    this.used += n;
    this.o.onBytes?.(this.used);
  }

  /** Resolves when n bytes fit; true when they were reserved then (do not `add` them again). */
  whenSpace(n: number): Promise<boolean> {
    if (this.fits(n) || this.stopped || this.o.signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  rescan(): void {
    this.used = dirBytes(this.o.dir);
    this.o.onBytes?.(this.used);
    // first come, first served: a later small write must not starve an earlier large one
    while (this.waiters.length && this.roomAfterFull(this.waiters[0]!.n)) {
      const w = this.waiters.shift()!;
      this.used += w.n; // reserved: the next waiter must not count on the same space
      w.resolve(true);
    }
  }

  private release(): void {
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }
}

/** Total size of the regular files under `dir` (0 if it does not exist). */
export function dirBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    try {
      const st = statSync(full);
      if (st.isDirectory()) total += dirBytes(full);
      else if (st.isFile()) total += st.size;
    } catch {
      // deleted between readdir and stat (a replay finished): nothing to count
    }
  }
  return total;
}
