import { renderProgress, renderStatTable } from '../../src/cli/table.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { PipelineHealth } from '../../src/pipeline/health.js';
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
  return { clock, reporter, handler, checkpoint, id, store };
}

describe('replay figures and /healthz', () => {
  it('healthz fails when backlog waits and no line was replayed for a minute, whether the sink is down or not', async () => {
    const { clock, reporter, handler } = await setup();
    expect(reporter.healthProblem()).toBeUndefined();
    clock.advance(60_000);
    expect(reporter.healthProblem()).toBeUndefined(); // a minute exactly is not yet a stall
    clock.advance(1);
    expect(reporter.healthProblem()).toEqual({ reason: 'replay_stalled', message: 'backlog in app/main and no line replayed for 60s', sinks: ['app/main'] });
    handler.statsFor('app/main').lastError = 'tcp 127.0.0.1:9: ECONNREFUSED'; // the sink is down: still unhealthy, and why
    expect(reporter.healthProblem()).toMatchObject({ reason: 'replay_stalled', last_error: 'tcp 127.0.0.1:9: ECONNREFUSED' });
    const s = handler.statsFor('app/main');
    s.replayed = 10;
    s.lastProgressAt = clock.now() - 1000; // a line replayed a second ago
    expect(reporter.healthProblem()).toBeUndefined();
    clock.advance(59_500);
    expect(reporter.healthProblem()?.reason).toBe('replay_stalled');
  });

  it('healthz fails for a minute after a job went dead, then recovers; an idle queue is healthy', async () => {
    const { clock, reporter, store, id } = await setup();
    await store.transition('DISPATCH', id);
    await store.transition('DEAD', id, { reason: 'max_retry reached' });
    expect(reporter.healthProblem()).toEqual({ reason: 'dead_jobs', message: '1 job(s) went dead in the last 60s', jobs: [id] });
    clock.advance(60_001);
    expect(reporter.healthProblem()).toBeUndefined(); // dead, so no backlog either: nothing waits
  });

  it('wparse: unhealthy while a rescue write fails, or when a batch waits for the sinks over a minute', () => {
    const clock = new ManualClock(0);
    const h = new PipelineHealth(clock);
    h.batchTaken('src');
    clock.advance(60_000);
    expect(h.problem()).toBeUndefined();
    h.batchDone('src');
    h.batchTaken('src');
    clock.advance(60_001);
    expect(h.problem()).toEqual({ reason: 'input_stalled', message: 'input of src waits and none was read for 60s', sources: ['src'] });
    h.rescueWrite('app/down', 'ENOSPC');
    expect(h.problem()).toMatchObject({ reason: 'rescue_write_failing', sinks: ['app/down'], last_error: 'app/down: ENOSPC' });
    h.rescueWrite('app/down', undefined);
    h.batchDone('src');
    expect(h.problem()).toBeUndefined();
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
