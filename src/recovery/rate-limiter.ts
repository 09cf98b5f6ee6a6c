import Bottleneck from 'bottleneck';

/**
 * The process-wide replay rate. bottleneck costs about 2.6 ms per job and tops out near 400 jobs/s
 * here, so a job is a chunk of lines: `chunk` lines every `minTime` ms, at most 100 jobs/s. Spacing
 * by minTime (not a refilled reservoir) means no burst at start or after a restart. 0 = unlimited:
 * the limiter is bypassed entirely.
 */
export interface RateLimiter {
  /** Lines per limiter job; replay batches are cut to this size. */
  readonly chunk: number;
  readonly rps: number;
  schedule<T>(lines: number, fn: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export function createRateLimiter(rps: number): RateLimiter {
  if (rps <= 0) {
    return { chunk: Infinity, rps: 0, schedule: (_n, fn) => fn(), stop: async () => {} };
  }
  const chunk = Math.max(1, Math.ceil(rps / 100));
  const limiter = new Bottleneck({ maxConcurrent: 1, minTime: (1000 * chunk) / rps });
  return {
    chunk,
    rps,
    schedule: (_n, fn) => limiter.schedule(fn),
    stop: () => limiter.stop({ dropWaitingJobs: false }),
  };
}
