import type { Clock } from '../../platform/clock.js';

/**
 * The `test_rescue` health schedule: a list of stages, each healthy or unhealthy, lasting a
 * duration (ms), a number of records offered to the sink, or forever; `repeat` loops it. Evaluated
 * lazily on every call, so it needs no timer and runs the same on a fake clock.
 */
export interface Stage {
  healthy: boolean;
  ms?: number;
  lines?: number;
}

export const DEFAULT_STAGES: Stage[] = [{ healthy: true, ms: 2000 }, { healthy: false, ms: 2000 }, { healthy: true }];

export class HealthSchedule {
  private index = 0;
  private stageStart: number | undefined;
  private stageLines = 0;

  constructor(
    private readonly stages: Stage[],
    private readonly repeat: boolean,
    private readonly clock: Clock,
  ) {}

  /** Current stage after time has been accounted for. */
  private current(): Stage | undefined {
    const now = this.clock.now();
    this.stageStart ??= now;
    for (;;) {
      const st = this.stages[this.index];
      if (!st) return undefined;
      if (st.ms !== undefined && now - this.stageStart >= st.ms) {
        this.next(this.stageStart + st.ms);
        continue;
      }
      if (st.lines !== undefined && this.stageLines >= st.lines) {
        this.next(now);
        continue;
      }
      return st;
    }
  }

  private next(start: number): void {
    this.index++;
    if (this.index >= this.stages.length && this.repeat) this.index = 0;
    this.stageStart = start;
    this.stageLines = 0;
  }

  isHealthy(): boolean {
    return this.current()?.healthy ?? true;
  }

  /**
   * How many of `n` records about to be offered fall in healthy stages before the first unhealthy
   * one; counts them as offered. The caller offers the rest with `offered` once it has rescued them.
   */
  takeHealthy(n: number): number {
    let taken = 0;
    while (taken < n) {
      const st = this.current();
      if (st && !st.healthy) break;
      const room = st?.lines !== undefined ? st.lines - this.stageLines : n - taken;
      const k = Math.min(room, n - taken);
      this.stageLines += k;
      taken += k;
    }
    return taken;
  }

  /** Records offered to the sink that did not reach the backend (they went to rescue). */
  offered(n: number): void {
    let left = n;
    while (left > 0) {
      const st = this.current();
      const room = st?.lines !== undefined ? st.lines - this.stageLines : left;
      const k = Math.min(room, left);
      this.stageLines += k;
      left -= k;
      if (!st || st.lines === undefined) break;
    }
  }
}
