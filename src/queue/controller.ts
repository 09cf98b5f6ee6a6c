import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import { errorMessage, isPermanent, isWrError } from '../errors.js';
import { sleep, systemClock, type Clock, type TimerHandle } from '../platform/clock.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Job } from './job-state.js';
import { PendingIndex } from './pending-index.js';
import type { QueueStore } from './store.js';

/** A job handler; an error whose code is `permanent` (errors.ts) makes the job dead at once, without retries. */
export interface JobHandler {
  run(job: Job, signal: AbortSignal): Promise<void>;
  /** Called once a job is dead (after max_retry or a permanent error). */
  onDead?(job: Job, reason: string): Promise<void>;
}


export interface ControllerOptions {
  store: QueueStore;
  handler: JobHandler;
  workers: number;
  maxRetry: number;
  taskTimeoutMs: number;
  snapshotIntervalMs: number;
  backoff: BackoffPolicy;
  /** Dispatch order among pending jobs (default: by id). */
  compare?: (a: Job, b: Job) => number;
  /** Jobs with the same key run one at a time, strictly in `compare` order (one file per sink). */
  keyOf?: (job: Job) => string | undefined;
  clock?: Clock;
  random?: () => number;
  log?: Logger;
  metrics?: Metrics;
  /** Called once a job's ACK is in the WAL. */
  onCompleted?: (job: Job) => void;
}

interface Running {
  job: Job;
  abort: AbortController;
  startedAt: number;
  timedOut: boolean;
  done: Promise<void>;
}

/**
 * Runs jobs from the store on N worker slots: dispatch (state first, then the handler), results
 * (ACK / RETRY with exponential backoff / DEAD), timeouts (abort + TIMEOUT), periodic snapshots,
 * and a graceful stop that aborts in-flight work, requeues it and snapshots.
 */
export class QueueController {
  private readonly running = new Map<string, Running>();
  private readonly busyKeys = new Set<string>();
  private readonly pending: PendingIndex;
  private timeoutTimer: TimerHandle | undefined;
  private snapshotTimer: TimerHandle | undefined;
  private wakeTimer: TimerHandle | undefined;
  private stopping = false;
  private started = false;
  private pumping = false;
  private repump = false;
  private readonly clock: Clock;
  private readonly log: Logger;
  private idleListeners: Array<() => void> = [];

  constructor(private readonly opts: ControllerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger();
    opts.metrics?.poolSize.set(opts.workers);
    this.pending = new PendingIndex(opts.compare ?? ((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), opts.keyOf ?? (() => undefined));
    for (const job of opts.store.jobs()) if (job.state === 'pending') this.pending.add(job);
    opts.store.subscribe((job) => {
      if (job.state !== 'pending') return this.pending.remove(job.id);
      this.pending.add(job);
      if (this.started) this.kick(); // enqueued, retried or timed out: a slot may take it
    });
  }

  start(): void {
    this.started = true;
    this.scheduleTimeoutCheck();
    this.scheduleSnapshot();
    this.kick();
  }

  /** Something changed (new job, time passed): try to fill free slots. */
  kick(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.repump) {
        this.repump = false;
        this.kick();
      } else if (this.isIdle()) {
        for (const l of this.idleListeners.splice(0)) l();
      }
    });
  }

  /** True when nothing runs and nothing is pending (pending jobs waiting for backoff count). */
  isIdle(): boolean {
    return this.running.size === 0 && this.pending.size === 0;
  }

  whenIdle(): Promise<void> {
    return this.isIdle() && !this.pumping ? Promise.resolve() : new Promise((r) => this.idleListeners.push(r));
  }

  get inFlight(): number {
    return this.running.size;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of [this.timeoutTimer, this.snapshotTimer]) if (t) this.clock.clearTimeout(t);
    if (this.wakeTimer) this.clock.clearTimeout(this.wakeTimer);
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.opts.store.close();
  }

  private async pump(): Promise<void> {
    const now = this.clock.now();
    for (const { job, key } of this.pending.heads(this.busyKeys)) {
      if (this.stopping || this.running.size >= this.opts.workers) break;
      if (job.notBefore > now) continue; // in backoff: its key waits with it
      this.busyKeys.add(key);
      try {
        await this.opts.store.transition('DISPATCH', job.id);
      } catch (err) {
        this.busyKeys.delete(key);
        this.log.error({ job: job.id, err: errorMessage(err) }, 'dispatch failed');
        continue;
      }
      this.opts.metrics?.jobsDispatched.inc();
      this.launch(job, key);
    }
    this.updateGauges();
    const wake = this.pending.nextWake(this.busyKeys, now);
    if (wake !== undefined) this.wakeAt(wake);
  }

  private launch(job: Job, key: string): void {
    const abort = new AbortController();
    const entry: Running = { job, abort, startedAt: this.clock.now(), timedOut: false, done: Promise.resolve() };
    entry.done = this.opts.handler
      .run(job, abort.signal)
      .then(
        () => this.finish(entry, undefined),
        (err: unknown) => this.finish(entry, err),
      )
      .catch((err: unknown) => this.log.error({ job: job.id, err }, 'recording a job result failed'))
      .finally(() => {
        this.running.delete(job.id);
        this.busyKeys.delete(key);
        // The next job starts in the next turn of the event loop, not in this microtask run: when
        // every step of a job completes at once (small files, synchronous WAL writes) a chain of
        // jobs would otherwise starve timers, signals and I/O callbacks (file deletions) for the
        // whole backlog.
        setImmediate(() => this.kick());
      });
    this.running.set(job.id, entry);
  }

  private async finish(entry: Running, err: unknown): Promise<void> {
    const { job } = entry;
    this.opts.metrics?.jobDuration.observe((this.clock.now() - entry.startedAt) / 1000);
    if (entry.timedOut) return; // already requeued by the timeout check
    if (this.stopping && entry.abort.signal.aborted) {
      await this.opts.store.transition('TIMEOUT', job.id, { reason: 'shutdown' });
      return;
    }
    if (err === undefined) {
      await this.record('ACK', job.id);
      this.opts.metrics?.jobsCompleted.inc();
      this.opts.onCompleted?.(job);
      return;
    }
    const message = errorMessage(err);
    const current = this.opts.store.get(job.id)!;
    if (isPermanent(err) || current.attempt + 1 > this.opts.maxRetry) {
      await this.record('DEAD', job.id, { error: message });
      this.opts.metrics?.jobsDead.inc();
      this.log.error({ job: job.id, error: message, attempts: current.attempt + 1 }, 'job dead');
      await this.opts.handler.onDead?.(this.opts.store.get(job.id)!, message);
      return;
    }
    const notBefore = this.clock.now() + this.backoffMs(current.attempt);
    await this.record('RETRY', job.id, { error: message, notBefore });
    this.opts.metrics?.jobsRetried.inc();
    this.log.warn({ job: job.id, error: message, attempt: current.attempt + 1, notBefore }, 'job failed, will retry');
  }

  /**
   * Records a job's result. An append the WAL refuses (disk full) is tried again, the job's key held
   * meanwhile: given up, the job would stay in flight with no one running it (never retried, never
   * finished) until a restart. A stop ends the wait; the job is then requeued on the next start.
   */
  private async record(type: 'ACK' | 'RETRY' | 'DEAD', id: string, data?: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.opts.store.transition(type, id, data);
      } catch (err) {
        if (this.stopping || isWrError(err)) throw err; // an illegal transition will not become legal
        this.log.error({ job: id, event: type, err: errorMessage(err) }, 'recording a job result failed, trying again');
        await sleep(this.clock, Math.min(1000, this.backoffMs(attempt)));
      }
    }
  }

  backoffMs(attempt: number): number {
    return backoffDelay(this.opts.backoff, attempt, this.opts.random);
  }

  private wakeAt(at: number): void {
    if (this.wakeTimer) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = this.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.kick();
    }, at - this.clock.now());
  }

  private scheduleTimeoutCheck(): void {
    const every = Math.max(10, Math.min(1000, Math.floor(this.opts.taskTimeoutMs / 4)));
    const tick = (): void => {
      if (this.stopping) return;
      const now = this.clock.now();
      for (const r of this.running.values()) {
        if (!r.timedOut && now - r.startedAt >= this.opts.taskTimeoutMs) {
          r.timedOut = true;
          r.abort.abort();
          this.opts.metrics?.jobsTimeout.inc();
          this.log.warn({ job: r.job.id, ms: now - r.startedAt }, 'job timed out, requeued');
          void this.opts.store.transition('TIMEOUT', r.job.id, { reason: 'timeout' }).catch((err: unknown) => this.log.error({ err }, 'timeout requeue failed'));
        }
      }
      this.timeoutTimer = this.clock.setTimeout(tick, every);
    };
    this.timeoutTimer = this.clock.setTimeout(tick, every);
  }

  private scheduleSnapshot(): void {
    const tick = (): void => {
      if (this.stopping) return;
      void this.opts.store.snapshot().catch((err: unknown) => this.log.error({ err }, 'snapshot failed'));
      this.snapshotTimer = this.clock.setTimeout(tick, this.opts.snapshotIntervalMs);
    };
    this.snapshotTimer = this.clock.setTimeout(tick, this.opts.snapshotIntervalMs);
  }

  private updateGauges(): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.queueDepth.set(this.pending.size);
    m.inFlight.set(this.running.size);
  }
}
