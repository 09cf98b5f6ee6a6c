import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../../src/recovery/rate-limiter.js';
import { prng } from '../helpers/child.js';

afterEach(() => {
  vi.useRealTimers();
});

/**
 * `producers` workers replay batches of random size (1..chunk lines, like file ends and small
 * files) through the limiter until `stop()`; returns the completion time of every line.
 */
function drive(limiter: () => RateLimiter, producers: number, seed: number, stallEvery = 0): { done: number[]; stop: () => void; finished: Promise<void> } {
  const rand = prng(seed);
  const done: number[] = [];
  let stopped = false;
  let batches = 0;
  const workers = Array.from({ length: producers }, async () => {
    while (!stopped) {
      const l = limiter();
      const n = 1 + Math.floor(rand() * l.chunk);
      await l.schedule(n, async () => {
        for (let i = 0; i < n; i++) done.push(Date.now());
        // a slow write now and then (a GC pause, a busy disk): 25 ms before the next batch
        if (stallEvery && ++batches % stallEvery === 0) await new Promise((r) => setTimeout(r, 25));
      });
    }
  });
  return { done, stop: () => (stopped = true), finished: Promise.all(workers).then(() => undefined) };
}

function windowCounts(done: number[], starts: number[]): number[] {
  return starts.map((s) => done.filter((t) => t >= s && t < s + 10_000).length);
}

describe('replay rate limiter (bottleneck slots, batches weighted by line count)', () => {
  for (const rps of [10, 1000, 100_000]) {
    it(`holds ${rps} lines/s within ±2% over every 10 s window, with batches of random size from 2 workers (fake clock)`, async () => {
      vi.useFakeTimers({ now: 0 });
      const limiter = createRateLimiter(rps);
      const run = drive(() => limiter, 2, rps);
      await vi.advanceTimersByTimeAsync(35_000);
      run.stop();
      await vi.advanceTimersByTimeAsync(5_000);
      await run.finished;
      for (const n of windowCounts(run.done, [0, 5_000, 12_345, 20_000, 25_000])) {
        expect(Math.abs(n - rps * 10) / (rps * 10)).toBeLessThanOrEqual(0.02);
      }
      vi.useRealTimers(); // bottleneck's stop() waits on timers of its own
      await limiter.stop();
    });
  }

  it('makes up for short stalls of the writer, so the rate still holds (±2% over 10 s)', async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = createRateLimiter(1000);
    const run = drive(() => limiter, 1, 3, 50); // about 3.6 stalls of 25 ms a second
    await vi.advanceTimersByTimeAsync(25_000);
    run.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    await run.finished;
    for (const n of windowCounts(run.done, [1_000, 7_000, 13_000])) expect(Math.abs(n - 10_000) / 10_000).toBeLessThanOrEqual(0.02);
    vi.useRealTimers();
    await limiter.stop();
  });

  it('holds the rate across a restart: a new limiter right after the old one does not burst', async () => {
    vi.useFakeTimers({ now: 0 });
    const rps = 1000;
    let current = createRateLimiter(rps);
    const run = drive(() => current, 1, 7);
    await vi.advanceTimersByTimeAsync(12_000);
    current = createRateLimiter(rps); // the process restarted: a fresh limiter, no memory of the old one
    await vi.advanceTimersByTimeAsync(12_000);
    run.stop();
    await vi.advanceTimersByTimeAsync(2_000);
    await run.finished;
    for (const n of windowCounts(run.done, [5_000, 7_000, 10_000, 12_000])) {
      expect(Math.abs(n - rps * 10) / (rps * 10)).toBeLessThanOrEqual(0.02);
    }
  });

  it('unlimited bypasses the limiter entirely', async () => {
    const limiter = createRateLimiter(0);
    expect(limiter.chunk).toBe(Infinity);
    expect(await limiter.schedule(5, async () => 42)).toBe(42);
  });
});
