import { renderProgress, renderStatTable } from '../../src/cli/table.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { QueueStore } from '../../src/queue/store.js';
import { RecoverCheckpoint } from '../../src/recovery/checkpoint.js';
import { jobPayload } from '../../src/recovery/discovery.js';
import type { ReplayHandler, SinkReplayStats } from '../../src/recovery/replayer.js';
import { StatReporter } from '../../src/recovery/stat-reporter.js';
import { tmpDir } from '../helpers/tmp.js';

/** The reporter over a queue with one waiting 20000-byte rescue file of sink app/main. */
async function setup() {
  const dir = tmpDir();
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 10, 0, 0));
  const store = await QueueStore.open({ dir: path.join(dir, 'queue'), fsync: 'none', clock });
  const id = 'app/main-2026-11-22_09:59:00-0.dat';
  await store.enqueue(id, jobPayload(id, 20_000));
  const stats = new Map<string, SinkReplayStats>();
  const handler = {
    stats,
    statsFor(key: string): SinkReplayStats {
      let s = stats.get(key);
      if (!s) stats.set(key, (s = { key, replayed: 0, skippedEmpty: 0, bad: 0, rejected: 0, lastProgressAt: clock.now() }));
      return s;
    },
  } as unknown as ReplayHandler;
  const checkpoint = new RecoverCheckpoint(path.join(dir, 'recover.lock'), false);
  const reporter = new StatReporter({ store, handler, checkpoint, rescueDir: path.join(dir, 'rescue'), clock });
  return { clock, reporter, handler, checkpoint, id };
}

describe('replay figures and /healthz', () => {
  it('healthz fails only when a sink has backlog, is not failing, and made no progress for a minute', async () => {
    const { clock, reporter, handler } = await setup();
    expect(reporter.healthProblem()).toBeUndefined();
    clock.advance(60_001);
    expect(reporter.healthProblem()).toBe('replay of app/main made no progress for 60s\n');
    handler.statsFor('app/main').lastError = 'tcp 127.0.0.1:9: ECONNREFUSED'; // the sink is down: not a stall
    expect(reporter.healthProblem()).toBeUndefined();
    handler.statsFor('app/main').lastError = undefined;
    handler.statsFor('app/main').lastProgressAt = clock.now() - 1000; // progress a second ago
    expect(reporter.healthProblem()).toBeUndefined();
  });

  it('backlog lines come from recorded file sizes past the checkpoint; the table shows rate and ETA', async () => {
    const { clock, reporter, handler, checkpoint, id } = await setup();
    await checkpoint.set(id, { offset: 10_000, lines: 50 }); // 200 bytes a line so far
    handler.statsFor('app/main').replayed = 50;
    clock.advance(5000);
    const table = reporter.table(5);
    // 10000 bytes left / 200 per line = 50 lines; 50 lines in 5 s = 10/s; ETA 5 s
    expect(table.rows).toEqual([['app/main', 50, 50, 10, 50, '5s']]);
    expect(renderStatTable(table)).toMatch(/\| app\/main +\| +50 \| +50 \| +10 \| +50 \| 5s +\|/);
    expect(reporter.progress()).toEqual({ done: 50, total: 100 });
    expect(renderProgress(reporter.progress())).toBe('[##########..........] 50% 50/100 lines');
  });
});
