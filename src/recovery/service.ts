import { existsSync } from 'node:fs';
import path from 'node:path';
import type { WorkRoot } from '../config/work-root.js';
import { WrError, errorMessage } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { HealthProblem } from '../metrics/server.js';
import type { Progress, StatTable } from '../platform/stat-table.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { QueueController } from '../queue/controller.js';
import { QueueStore } from '../queue/store.js';
import { clearOrphanOwner, ownerState, salvage } from '../rescue/salvage.js';
import { RecoverCheckpoint } from './checkpoint.js';
import { lockRescueDir } from './dir-lock.js';
import { jobPayload, jobRank, jobSinkKey, scanRescueDir, wantsReplay } from './discovery.js';
import { RescueWatcher } from './rescue-watcher.js';
import { createRateLimiter } from './rate-limiter.js';
import { ReplayHandler } from './replayer.js';
import { StatReporter } from './stat-reporter.js';
import { rescueLayout } from '../rescue/layout.js';

export interface RescueRunOptions {
  wr: WorkRoot;
  mode: 'batch' | 'daemon';
  rate?: number;
  statSec?: number;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  print: (table: StatTable) => void;
  progress?: (p: Progress) => void;
  setHealth?: (fn: (stallMs?: number) => HealthProblem | undefined) => void;
}

export interface RescueSummary {
  replayed: number;
  dead: number;
  salvaged: number;
  sinks: Array<{ key: string; replayed: number; bad: number; skippedEmpty: number; rejected: number }>;
}

/**
 * `wprescue batch|daemon`: owns the rescue directory, turns every released `.dat` into a queue job,
 * salvages `.dat.lock` files of dead writers, and replays through the queue controller. Discovery
 * is chokidar plus a rescan every scan_interval_ms. Batch mode stops after idle_exit_ms with
 * nothing pending, running or waiting.
 */
export async function runRescue(o: RescueRunOptions): Promise<RescueSummary> {
  const { wr, log, clock } = o;
  const rescueDir = path.resolve(wr.root, wr.engine.rescue.path);
  // the lock lost to another process (see lockRescueDir): stop replaying, that process owns the files now
  const lockLost = new AbortController();
  const releaseDir = await lockRescueDir(rescueDir, (err) => {
    log.error({ err: err.message }, 'rescue directory lock lost to another process: stopping');
    lockLost.abort(err);
  });
  const stopSignal = AbortSignal.any([o.signal, lockLost.signal]);
  const store = await QueueStore.open({
    dir: path.resolve(wr.root, wr.engine.queue.dir),
    fsync: wr.engine.queue.fsync,
    completedHistory: wr.engine.queue.completed_history,
    clock,
    log,
    ...(o.metrics ? { onFsync: (s: number) => o.metrics!.walFsync.observe(s) } : {}),
  });
  o.metrics?.recoveryDuration.set(store.recovery.ms / 1000);
  log.info({ ...store.recovery }, 'queue recovered');
  const checkpoint = new RecoverCheckpoint(rescueLayout(rescueDir).recoverLock, wr.engine.queue.fsync === 'always');
  if (checkpoint.unreadable) log.warn({ file: checkpoint.file }, 'recover.lock unreadable (neither slot valid): files part-replayed before resume from their start');
  const limiter = createRateLimiter(o.rate ?? wr.engine.performance.rate_limit_rps);
  o.metrics?.rateLimit.set(limiter.rps);
  const handler = new ReplayHandler({ wr, rescueDir, checkpoint, limiter, batchSize: wr.engine.performance.batch_size, clock, log, ...(o.metrics ? { metrics: o.metrics } : {}) });
  const sign = wr.engine.recovery.order === 'newest' ? -1 : 1;
  const controller = new QueueController({
    store,
    handler,
    workers: wr.engine.recovery.workers,
    maxRetry: wr.engine.recovery.max_retry,
    taskTimeoutMs: wr.engine.queue.task_timeout_ms,
    snapshotIntervalMs: wr.engine.queue.snapshot_interval_ms,
    backoff: { initialMs: wr.engine.reconnect.initial_ms, maxMs: wr.engine.reconnect.max_ms, jitter: wr.engine.reconnect.jitter },
    compare: (a, b) => (jobRank(a) === jobRank(b) ? (a.id < b.id ? -1 : 1) : jobRank(a) < jobRank(b) ? -sign : sign),
    keyOf: jobSinkKey,
    clock,
    log,
    ...(o.metrics ? { metrics: o.metrics } : {}),
  });
  const reporter = new StatReporter({ store, handler, checkpoint, rescueDir, clock, ...(o.metrics ? { metrics: o.metrics } : {}) });
  o.setHealth?.((stallMs) => reporter.healthProblem(stallMs));
  let salvaged = 0;

  const wanted = (id: string): boolean =>
    wantsReplay(store.get(id), handler.finishing(id), () => existsSync(path.join(rescueDir, id)));
  const enqueued = (id: string): void => {
    o.metrics?.jobsEnqueued.inc();
    log.info({ job: id }, 'rescue file enqueued');
  };
  const enqueue = async (id: string, bytes?: number): Promise<void> => {
    if (wanted(id) && (await store.enqueue(id, jobPayload(id, bytes)))) enqueued(id);
  };
  /** One pass: salvage dead writers' files, enqueue every .dat; returns how many files wait. */
  const scanOnce = async (): Promise<number> => {
    const found = scanRescueDir(rescueDir, (id) => store.get(id) !== undefined);
    for (const lock of found.locks) {
      if (ownerState(lock, clock.now()) !== 'gone') continue;
      const res = await salvage(lock);
      if (!res) continue; // released by its writer since the listing: the next pass finds the .dat
      salvaged++;
      log.warn({ file: res.file, tornBytes: res.tornBytes }, 'stale rescue file salvaged');
      found.dats.push({ id: path.relative(rescueDir, res.file).split(path.sep).join('/'), file: res.file, size: res.bytes });
    }
    for (const owner of found.orphanOwners) await clearOrphanOwner(owner, clock.now());
    // the WAL writes all new ENQUEUE events of a pass in one append
    const fresh = found.dats.filter((d) => wanted(d.id)).map((d) => ({ id: d.id, payload: jobPayload(d.id, d.size) }));
    if (fresh.length > 0) for (const id of await store.enqueueMany(fresh)) enqueued(id);
    controller.kick();
    watcher?.update(found.dats.length);
    return found.dats.length;
  };
  // passes never overlap (two could salvage the same file): the rescan timer and the watcher's ready
  let scanning: Promise<number> = Promise.resolve(0);
  const scan = (): Promise<number> => (scanning = scanning.then(scanOnce, scanOnce));
  // batch mode replays what is there and finds late arrivals by rescanning: no watcher to pay for
  const watcher = o.mode === 'batch' ? undefined : new RescueWatcher(
    rescueDir,
    (id) =>
      void enqueue(id)
        .then(() => controller.kick())
        .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'enqueue failed')),
    log,
    () => void scan().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'rescan failed')),
  );

  await scan();
  controller.start();

  await new Promise<void>((resolve) => {
    let timer: TimerHandle | undefined;
    let statTimer: TimerHandle | undefined;
    let idleSince: number | undefined;
    const finish = (): void => {
      if (timer) clock.clearTimeout(timer);
      if (statTimer) clock.clearTimeout(statTimer);
      resolve();
    };
    // a stop signal may have come while the queue was opening: it has fired already then
    if (stopSignal.aborted) return finish();
    stopSignal.addEventListener('abort', finish, { once: true });
    const tick = (): void => {
      // Batch mode replays what is there: while jobs are queued a rescan (a walk of every file) finds
      // nothing it needs, so it waits until the queue drains, then picks up late arrivals.
      const busy = o.mode === 'batch' && !controller.isIdle();
      void (busy ? Promise.resolve(-1) : scan())
        .then((waiting) => {
          if (o.mode === 'batch') {
            const idle = controller.isIdle() && waiting === 0;
            idleSince = idle ? (idleSince ?? clock.now()) : undefined;
            if (idleSince !== undefined && clock.now() - idleSince >= wr.engine.recovery.idle_exit_ms) return finish();
          }
          o.progress?.(reporter.progress());
          timer = clock.setTimeout(tick, Math.min(wr.engine.recovery.scan_interval_ms, Math.max(50, wr.engine.recovery.idle_exit_ms)));
        })
        .catch((err: unknown) => {
          log.error({ err }, 'rescan failed');
          timer = clock.setTimeout(tick, wr.engine.recovery.scan_interval_ms);
        });
    };
    timer = clock.setTimeout(tick, 0);
    if (o.statSec) {
      const st = (): void => {
        o.print(reporter.table(o.statSec!));
        statTimer = clock.setTimeout(st, o.statSec! * 1000);
      };
      statTimer = clock.setTimeout(st, o.statSec * 1000);
    }
  });

  await watcher?.close();
  await controller.stop();
  for (const j of store.jobs()) {
    const at = j.state === 'pending' ? checkpoint.get(j.id) : undefined;
    if (at && at.offset > 0) log.info({ job: j.id, offset: at.offset, lines: at.lines }, `job requeued at offset ${at.offset}`);
  }
  await limiter.stop();
  await handler.close();
  checkpoint.close();
  await releaseDir().catch(() => undefined);
  const sinks = [...handler.stats.values()].map((s) => ({ key: s.key, replayed: s.replayed, bad: s.bad, skippedEmpty: s.skippedEmpty, rejected: s.rejected }));
  const dead = store.counts().dead;
  if (o.statSec) o.print(reporter.table(o.statSec, true));
  if (lockLost.signal.aborted) throw new WrError('RESCUE_DIR_LOCKED', `rescue directory ${rescueDir} was taken by another process after its lock was removed; stopped`);
  return { replayed: sinks.reduce((a, s) => a + s.replayed, 0), dead, salvaged, sinks };
}
