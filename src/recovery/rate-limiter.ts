import Bottleneck from 'bottleneck';

/**
 * The process-wide replay rate, on bottleneck's reservoir. bottleneck costs about 2.6 ms per job
 * (one job per 512-line batch held 100k lines/s to 72k here), so a job takes a whole slot of
 * `chunk` lines (at most 100 jobs/s) and batches draw on that credit by their line count: the end
 * of a file, or many small files, never pay a whole slot for a few lines. Batches are at most a
 * chunk long.
 *
 * The reservoir is refilled by our own timer on an absolute schedule: at tick k (every 1/100 s
 * since start) the tokens of every slot due since the last tick are added, so a late timer or a
 * slow write never loses time (bottleneck's own refill re-arms from when it ran, and drifts). It
 * holds at most MAX_SLOTS slots: after a stall replay catches up by at most 100 ms of lines, and
 * a new process (a restart) starts with one slot, so there is no burst. 0 = unlimited: the limiter
 * is bypassed entirely.
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
const MAX_SLOTS = 10;

export function createRateLimiter(rps: number): RateLimiter {
  if (rps <= 0) {
    return { chunk: Infinity, rps: 0, schedule: (_n, fn) => fn(), stop: async () => {} };
  }
  const chunk = Math.max(1, Math.ceil(rps / SLOTS_PER_SECOND));
  const slotMs = (1000 * chunk) / rps;
  const limiter = new Bottleneck({ maxConcurrent: null, reservoir: chunk });
  let credit = 0;
  // Slots are taken one request at a time, in order, so concurrent workers share the credit fairly.
  let turn: Promise<unknown> = Promise.resolve();
  const acquire = (lines: number): Promise<void> => {
    const mine = turn.then(async () => {
      while (credit < lines) {
        await limiter.schedule({ weight: chunk }, () => Promise.resolve());
        credit += chunk;
      }
      credit -= lines;
    });
    turn = mine.catch(() => undefined);
    return mine;
  };
  const start = Date.now();
  let slotsGiven = 1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const refill = async (): Promise<void> => {
    const due = Math.floor((Date.now() - start) / slotMs) + 1;
    const tokens = (due - slotsGiven) * chunk;
    slotsGiven = due;
    const now = (await limiter.currentReservoir()) ?? 0;
    const add = Math.min(tokens, MAX_SLOTS * chunk - now);
    if (add > 0) await limiter.incrementReservoir(add);
    if (!stopped) timer = setTimeout(() => void refill(), start + due * slotMs - Date.now());
  };
  timer = setTimeout(() => void refill(), slotMs);
  return {
    chunk,
    rps,
    schedule: async (lines, fn) => {
      await acquire(Math.min(lines, chunk));
      return fn();
    },
    stop: async () => {
      // jobs still waiting for tokens finish first: the refill must go on until they have them
      await limiter.stop({ dropWaitingJobs: false });
      stopped = true;
      clearTimeout(timer);
    },
  };
}
