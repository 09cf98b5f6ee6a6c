import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRateLimiter } from '../../src/recovery/rate-limiter.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('replay rate limiter (bottleneck, one job per chunk of lines)', () => {
  for (const rps of [10, 1000, 100_000]) {
    it(`holds ${rps} lines/s within ±2% over every 10 s window (fake clock)`, async () => {
      vi.useFakeTimers({ now: 0 });
      const limiter = createRateLimiter(rps);
      const done: number[] = []; // completion time of each line
      let stop = false;
      const producer = (async () => {
        while (!stop) {
          const n = limiter.chunk;
          await limiter.schedule(n, async () => {
            for (let i = 0; i < n; i++) done.push(Date.now());
          });
        }
      })();
      await vi.advanceTimersByTimeAsync(35_000);
      stop = true;
      await vi.advanceTimersByTimeAsync(5_000);
      await producer;
      for (const start of [0, 5_000, 12_345, 20_000, 25_000]) {
        const inWindow = done.filter((t) => t >= start && t < start + 10_000).length;
        expect(Math.abs(inWindow - rps * 10) / (rps * 10)).toBeLessThanOrEqual(0.02);
      }
      vi.useRealTimers(); // bottleneck's stop() waits on timers of its own
      await limiter.stop();
    });
  }

  it('unlimited bypasses the limiter entirely', async () => {
    const limiter = createRateLimiter(0);
    expect(limiter.chunk).toBe(Infinity);
    expect(await limiter.schedule(5, async () => 42)).toBe(42);
  });
});
