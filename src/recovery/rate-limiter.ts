import Bottleneck from 'bottleneck';

/**
 * The process-wide replay rate. bottleneck costs about 2.6 ms per job and tops out near 400 jobs/s
 * here, so a bottleneck job is a slot for a chunk of lines: one slot every `minTime` ms, each worth
 * `chunk` lines, at most 100 slots/s. Replay batches are at most a chunk long.
 *
 * Batches are weighted by their line count: a batch takes a new slot only for the lines that the
 * credit left over from earlier slots does not cover, so the end of a file, or many small files,
 * never pay a whole slot for a few lines. A slot job does no work (the write happens after it), so
 * the next slot is requested as soon as it is needed and bottleneck's `minTime` spacing measures
 * from the previous slot, not from when a write finished: no drift. Spacing (not a refilled
 * reservoir) means no burst at start or after a restart beyond one chunk. 0 = unlimited: the
 * limiter is bypassed entirely.
 */
export interface RateLimiter {
  /** Lines per slot; replay batches are cut to this size. */
  readonly chunk: number;
  readonly rps: number;
  /** Runs `fn` once `lines` lines fit the rate. */
  schedule<T>(lines: number, fn: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export const SLOTS_PER_SECOND = 100;

export function createRateLimiter(rps: number): RateLimiter {
  if (rps <= 0) {
    return { chunk: Infinity, rps: 0, schedule: (_n, fn) => fn(), stop: async () => {} };
  }
  const chunk = Math.max(1, Math.ceil(rps / SLOTS_PER_SECOND));
  const limiter = new Bottleneck({ maxConcurrent: null, minTime: (1000 * chunk) / rps });
  let credit = 0;
  // Slot requests are made one at a time, in order, so concurrent workers share the credit fairly.
  let turn: Promise<unknown> = Promise.resolve();
  const acquire = (lines: number): Promise<void> => {
    const mine = turn.then(async () => {
      while (credit < lines) {
        await limiter.schedule(() => Promise.resolve());
        credit += chunk;
      }
      credit -= lines;
    });
    turn = mine.catch(() => undefined);
    return mine;
  };
  return {
    chunk,
    rps,
    schedule: async (lines, fn) => {
      await acquire(lines);
      return fn();
    },
    stop: () => limiter.stop({ dropWaitingJobs: false }),
  };
}
