import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { WrError } from '../../src/errors.js';
import { QueueController, type ControllerOptions, type JobHandler } from '../../src/queue/controller.js';
import { countByState, type Job } from '../../src/queue/job-state.js';
import { QueueStore, readQueueState } from '../../src/queue/store.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import { tmpDir } from '../helpers/tmp.js';
import { pino } from 'pino';
import { until } from '../helpers/until.js';

/** A handler whose jobs the test finishes by hand: `started` in order, `finish(id, err?)`. */
function manualHandler(): JobHandler & { started: string[]; running: Set<string>; finish(id: string, err?: Error): void; aborted: string[]; dead: Array<[string, string]> } {
  const waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const h = {
    started: [] as string[],
    running: new Set<string>(),
    aborted: [] as string[],
    dead: [] as Array<[string, string]>,
    run(job: Job, signal: AbortSignal): Promise<void> {
      h.started.push(job.id);
      h.running.add(job.id);
      return new Promise<void>((resolve, reject) => {
        waiters.set(job.id, { resolve, reject });
        signal.addEventListener('abort', () => {
          h.aborted.push(job.id);
          h.finish(job.id, new Error('aborted'));
        });
      });
    },
    finish(id: string, err?: Error): void {
      const w = waiters.get(id);
      if (!w) return;
      waiters.delete(id);
      h.running.delete(id);
      if (err) w.reject(err);
      else w.resolve();
    },
    async onDead(job: Job, reason: string): Promise<void> {
      h.dead.push([job.id, reason]);
    },
  };
  return h;
}

async function setup(extra: Partial<ControllerOptions> = {}, dir = tmpDir()) {
  const clock = new ManualClock(1_000_000);
  const store = await QueueStore.open({ dir, fsync: 'none', clock });
  const handler = manualHandler();
  const controller = new QueueController({
    store, handler, clock, workers: 2, maxRetry: 3, taskTimeoutMs: 60_000, snapshotIntervalMs: 1_000_000,
    backoff: { initialMs: 100, maxMs: 250, jitter: 0 }, random: () => 0.5,
    keyOf: (j) => (typeof j.data.key === 'string' ? j.data.key : undefined),
    compare: (a, b) => Number(a.data.rank) - Number(b.data.rank),
    ...extra,
  });
  return { dir, clock, store, handler, controller };
}

describe('queue controller', () => {
  it('retries a failing job with exponential backoff up to max_retry, then it is dead and onDead runs', async () => {
    const { clock, store, handler, controller } = await setup();
    await store.enqueue('j', { key: 'k', rank: 1 });
    controller.start();
    const startedAt: number[] = [];
    for (let attempt = 0; attempt <= 3; attempt++) {
      await until(() => handler.running.has('j'));
      startedAt.push(clock.now());
      handler.finish('j', new Error(`boom ${attempt}`));
      await until(() => store.get('j')!.state !== 'in_flight');
      if (attempt < 3) {
        expect(store.get('j')).toMatchObject({ state: 'pending', attempt: attempt + 1, lastError: `boom ${attempt}` });
        const { notBefore } = store.get('j')!;
        clock.advance(notBefore - clock.now() - 1);
        // nothing else runs: the job can only start when the wake-up timer fires, at notBefore
        expect(handler.running.has('j')).toBe(false);
        await until(() => clock.nextDue() === notBefore);
        clock.advance(1);
      }
    }
    expect(startedAt.slice(1).map((t, i) => t - startedAt[i]!)).toEqual([100, 200, 250]); // 100·2^n, capped at max_ms
    await until(() => handler.dead.length === 1);
    expect(store.get('j')).toMatchObject({ state: 'dead', lastError: 'boom 3' });
    expect(handler.dead).toEqual([['j', 'boom 3']]);
    await controller.stop();
  });

  it('a result the WAL cannot record (disk full) is recorded once space returns: the job is retried, not left in flight with no one running it', async () => {
    let full = false;
    let refused = 0;
    const fs: FsPort = {
      ...realFs,
      writeSync(fh, buf) {
        if (full) {
          refused++;
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        realFs.writeSync(fh, buf);
      },
    };
    const clock = new ManualClock(1_000_000);
    const store = await QueueStore.open({ dir: tmpDir(), fsync: 'none', clock, fs });
    const handler = manualHandler();
    const unrecorded = new Set<string>();
    const log = pino({ level: 'error' }, { write: (line: string) => void unrecorded.add(String((JSON.parse(line) as { job?: string }).job)) });
    const controller = new QueueController({
      store, handler, clock, log, workers: 2, maxRetry: 3, taskTimeoutMs: 60_000, snapshotIntervalMs: 1_000_000,
      backoff: { initialMs: 100, maxMs: 250, jitter: 0 }, random: () => 0.5, keyOf: (j) => j.id, compare: () => 0,
    });
    await store.enqueue('fails', {});
    await store.enqueue('works', {});
    controller.start();
    await until(() => handler.running.size === 2);
    full = true;
    handler.finish('fails', new Error('sink down'));
    handler.finish('works');
    await until(() => unrecorded.has('fails') && unrecorded.has('works')); // RETRY and ACK both refused
    expect(refused).toBeGreaterThan(0);
    full = false;
    const step = async (): Promise<void> => {
      clock.advance(50);
      await new Promise((r) => setImmediate(r));
    };
    for (let i = 0; i < 100 && (store.get('works')!.state !== 'completed' || !handler.running.has('fails')); i++) await step();
    expect(store.get('works')!.state).toBe('completed');
    expect(store.get('fails')).toMatchObject({ state: 'in_flight', attempt: 1, lastError: 'sink down' }); // retried after its backoff
    handler.finish('fails');
    await until(() => store.get('fails')!.state === 'completed');
    await controller.stop();
  });

  it('an error with a permanent code makes the job dead at once, without retries', async () => {
    const { store, handler, controller } = await setup();
    await store.enqueue('j', { key: 'k', rank: 1 });
    controller.start();
    await until(() => handler.running.has('j'));
    handler.finish('j', new WrError('REPLAY_ROUTE_UNKNOWN', 'no such sink'));
    await until(() => handler.dead.length === 1);
    expect(store.get('j')).toMatchObject({ state: 'dead', attempt: 0 });
    expect(handler.started).toEqual(['j']);
    await controller.stop();
  });

  it('a job in flight past task_timeout_ms is aborted and requeued without using an attempt, then runs again', async () => {
    const { clock, store, handler, controller } = await setup({ taskTimeoutMs: 1000 });
    await store.enqueue('j', { key: 'k', rank: 1 });
    controller.start();
    await until(() => handler.running.has('j'));
    clock.advance(1000);
    await until(() => handler.started.length === 2); // aborted, requeued (TIMEOUT), dispatched again
    expect(handler.aborted).toEqual(['j']);
    expect(store.get('j')).toMatchObject({ state: 'in_flight', attempt: 0 });
    handler.finish('j');
    await until(() => store.get('j')!.state === 'completed');
    await controller.stop();
  });

  it('runs at most `workers` jobs at once; one per key, each key strictly in order even past a backoff', async () => {
    const { clock, store, handler, controller } = await setup();
    // sink a: files 1, 2, 3; sink b: files 1, 2; sink c: file 1
    for (const [id, key, rank] of [['a3', 'a', 3], ['b2', 'b', 2], ['a1', 'a', 1], ['c1', 'c', 1], ['a2', 'a', 2], ['b1', 'b', 1]] as const) {
      await store.enqueue(id, { key, rank });
    }
    controller.start();
    await until(() => handler.running.size === 2); // two workers: nothing else can start
    expect([...handler.running].sort()).toEqual(['a1', 'b1']); // the oldest of each sink, two workers
    handler.finish('a1', new Error('down')); // a1 goes to backoff: a2 must not overtake it
    await until(() => handler.running.size === 2 && !handler.running.has('a1'));
    expect([...handler.running].sort()).toEqual(['b1', 'c1']);
    handler.finish('b1');
    await until(() => handler.running.has('b2'));
    handler.finish('c1');
    handler.finish('b2');
    await until(() => store.counts().completed === 3);
    // the controller is asleep until a1's backoff ends: a2 waits for it
    await until(() => clock.nextDue() === store.get('a1')!.notBefore);
    expect(handler.running.size).toBe(0);
    clock.advance(100);
    await until(() => handler.running.has('a1'));
    handler.finish('a1');
    await until(() => handler.running.has('a2'));
    handler.finish('a2');
    await until(() => handler.running.has('a3'));
    handler.finish('a3');
    await until(() => controller.isIdle());
    expect(handler.started.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a1', 'a2', 'a3']);
    expect(store.counts()).toEqual(countByState(store.jobs()));
    expect(store.counts()).toMatchObject({ completed: 6, pending: 0, in_flight: 0 });
    await controller.stop();
  });

  it('a graceful stop aborts in-flight jobs, requeues them and snapshots; a restart runs them', async () => {
    const first = await setup();
    await first.store.enqueue('x', { key: 'x', rank: 1 });
    await first.store.enqueue('y', { key: 'y', rank: 2 });
    first.controller.start();
    await until(() => first.handler.running.size === 2);
    await first.controller.stop();
    expect(first.handler.aborted.sort()).toEqual(['x', 'y']);
    expect(first.store.get('x')).toMatchObject({ state: 'pending', attempt: 0 });

    const second = await setup({}, first.dir);
    expect(second.store.recovery.snapshot).toBe('main');
    expect(second.store.counts()).toMatchObject({ pending: 2, in_flight: 0 });
    second.controller.start();
    await until(() => second.handler.running.size === 2);
    second.handler.finish('x');
    second.handler.finish('y');
    await until(() => second.controller.isIdle());
    expect(second.store.counts().completed).toBe(2);
    await second.controller.stop();
  });
});

describe('queue store: enqueueMany (a scan finding many files)', () => {
  it('adds the new jobs with one append, skips pending and in-flight ones, re-adds completed ones, and orders after an operation under way', async () => {
    const dir = tmpDir();
    const store = await QueueStore.open({ dir, fsync: 'always' });
    await store.enqueue('pending', {});
    await store.enqueue('running', {});
    await store.transition('DISPATCH', 'running');
    await store.enqueue('done', {});
    await store.transition('DISPATCH', 'done');
    await store.transition('ACK', 'done');
    await store.enqueue('busy', {});
    const dispatching = store.transition('DISPATCH', 'busy'); // under way while enqueueMany is called
    const fresh = Array.from({ length: 500 }, (_, i) => ({ id: `new-${i}`, payload: { rank: i } }));
    const added = await store.enqueueMany([...fresh, { id: 'pending', payload: {} }, { id: 'running', payload: {} }, { id: 'done', payload: {} }, { id: 'busy', payload: {} }, fresh[0]!]);
    await dispatching;
    expect(added.sort()).toEqual([...fresh.map((f) => f.id), 'done'].sort()); // busy was in flight by its turn
    expect(store.get('busy')!.state).toBe('in_flight');
    expect(store.get('new-7')).toMatchObject({ state: 'pending', data: { rank: 7 } });
    expect(store.counts()).toEqual({ pending: 502, in_flight: 2, completed: 0, dead: 0 });
    await store.close({ snapshot: false });
    const again = readQueueState(dir);
    expect([...again.jobs.values()].filter((j) => j.state === 'pending')).toHaveLength(502);
  });
});
