import path from 'node:path';
import type { WorkRoot } from '../config/work-root.js';
import type { SourceConfig } from '../config/work-root-schema.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import type { Logger } from '../platform/logger.js';
import type { StatTable } from '../platform/stat-table.js';
import { Engine } from './engine.js';
import { FileSource } from './file-source.js';
import type { PipelineHealth } from './health.js';
import { NatsSource, natsSourceSettings } from './nats-source.js';
import { OrderedCommit } from './ordered-commit.js';
import type { Source, SourceBatch } from './source.js';
import { SourceCheckpoint } from './source-checkpoint.js';
import { StdinSource } from './stdin-source.js';

export interface PipelineRunOptions {
  wr: WorkRoot;
  mode: 'batch' | 'daemon';
  maxLines?: number;
  statSec?: number;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  print: (table: StatTable) => void;
  /** File operations of sinks and rescue writers (tests inject ENOSPC here). */
  fs?: FsPort;
  /** Fed with what /healthz needs (batches in hand, failing rescue writes). */
  health?: PipelineHealth;
}

export interface PipelineSummary {
  linesIn: number;
  miss: number;
  unrouted: number;
  sinks: ReturnType<Engine['stats']>;
  released: string[];
  seconds: number;
}

/**
 * How many batches may wait for their rescue write to become durable while reading goes on. With
 * `fsync` or `none` none may (a kill -9 repeats at most one batch). With `batch` the reader goes on
 * while the oldest uncommitted batch is younger than one `flush_ms` (so one group commit covers
 * what it reads, and reading overlaps the window), then waits for that commit: a kill -9 repeats
 * at most the input read in one `flush_ms` window. The count cap only bounds memory.
 */
const MAX_UNCOMMITTED_BATCHED = 256;

/**
 * `wparse batch|daemon`: reads every enabled source, feeds the engine, and commits each source's
 * batches in order, only past batches every sink holds durably. Stops at end of input (batch) or
 * on the abort signal; then releases rescue files and commits what is durable.
 */
export async function runPipeline(o: PipelineRunOptions): Promise<PipelineSummary> {
  const t0 = o.clock.now();
  const engine = new Engine(o.wr, { clock: o.clock, log: o.log, signal: o.signal, ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.fs ? { fs: o.fs } : {}), ...(o.health ? { health: o.health } : {}) });
  const runDir = path.resolve(o.wr.root, 'data', '.run');
  const sources = o.wr.sources.filter((s) => s.enable).map((s) => createSource(s, o, runDir));
  await engine.open();
  const budget = { left: o.maxLines ?? Infinity };
  const stopStat = startStatTimers(engine, o);
  try {
    await Promise.all(sources.map((s) => runSource(s, engine, o, budget)));
  } catch (err) {
    // a stop that could not write everything (rescue writes failing): release what was written
    if (o.signal.aborted) await engine.close().catch(() => undefined);
    throw err;
  } finally {
    await stopStat();
  }
  const released = await engine.close();
  const summary: PipelineSummary = {
    linesIn: engine.linesIn,
    miss: engine.missLines,
    unrouted: engine.unrouted,
    sinks: engine.stats(),
    released,
    seconds: (o.clock.now() - t0) / 1000,
  };
  o.log.info({ linesIn: summary.linesIn, miss: summary.miss, unrouted: summary.unrouted, released }, 'wparse finished');
  return summary;
}

function createSource(s: SourceConfig, o: PipelineRunOptions, runDir: string): Source {
  const batchSize = o.wr.engine.performance.batch_size;
  if (s.type === 'stdin') return new StdinSource({ key: s.key, batchSize, input: process.stdin });
  if (s.type === 'nats') {
    return new NatsSource({ key: s.key, settings: natsSourceSettings(s.params), follow: o.mode === 'daemon', clock: o.clock, log: o.log, ...(o.metrics ? { metrics: o.metrics } : {}) });
  }
  return new FileSource({
    key: s.key,
    path: path.resolve(o.wr.root, s.params.path),
    // a name glob (`*.gz`) stays as it is; a path glob resolves like `path`
    exclude: s.params.exclude.map((e) => (e.includes('/') ? path.resolve(o.wr.root, e) : e)),
    from: s.params.from,
    rotateWaitMs: s.params.rotate_wait_ms,
    batchSize,
    follow: o.mode === 'daemon',
    checkpointFile: SourceCheckpoint.pathFor(runDir, s.key),
    clock: o.clock,
    log: o.log,
  });
}

async function runSource(source: Source, engine: Engine, o: PipelineRunOptions, budget: { left: number }): Promise<void> {
  const linesIn = o.metrics?.linesIn.labels(source.key);
  const commits = new OrderedCommit();
  const maxPending = o.wr.engine.rescue.durability === 'batch' ? MAX_UNCOMMITTED_BATCHED : 0;
  try {
    for await (const batch of source.batches(o.signal)) {
      const n = Math.min(batch.lines.length, budget.left);
      budget.left -= n;
      if (n > 0) {
        o.health?.batchTaken(source.key);
        const part = n < batch.lines.length ? { ...batch, lines: batch.lines.slice(0, n), positions: batch.positions.slice(0, n) } : batch;
        const { durable, confirmed } = await engine.processBatch(part);
        linesIn?.inc(n);
        // keep the commit, not the batch: with durability batch, lines held until their group commit
        // (a flush_ms of input) outlive the young generation; spilling 1M lines that cost ~0.3 s of GC
        commits.push(durable, commitOf(batch, n), o.clock.now(), confirmed);
        await commits.whenAtMost(maxPending);
        if (maxPending) await commits.whenYoungerThan(o.wr.engine.rescue.flush_ms, () => o.clock.now());
        o.health?.batchDone(source.key);
      }
      if (budget.left === 0 || o.signal.aborted) break;
    }
    await commits.whenAtMost(0);
    // what a TCP sink cannot vouch for yet is confirmed now (or rescued), not after its timer
    if (commits.pending) await engine.confirmAll();
    await commits.whenCommitted();
  } finally {
    await source.close();
  }
}

/** The commit of a batch's first `n` lines, holding nothing of the batch but what committing needs. */
function commitOf(batch: SourceBatch, n: number): () => void {
  if (n < batch.lines.length && batch.commitPart) return batch.commitPart(n);
  const { commit } = batch;
  return () => commit(n);
}

function startStatTimers(engine: Engine, o: PipelineRunOptions): () => Promise<void> {
  const handles: TimerHandle[] = [];
  let last = new Map(engine.stats().map((s) => [s.key, s]));
  let lastAt = o.clock.now();
  const printStat = (): void => {
    const now = o.clock.now();
    const secs = Math.max(0.001, (now - lastAt) / 1000);
    const cur = engine.stats();
    const rows = cur.map((s) => {
      const prev = last.get(s.key);
      const win = s.delivered + s.rescued - (prev ? prev.delivered + prev.rescued : 0);
      return [s.key, s.onRescue ? 'RESCUE' : 'ok', win, s.delivered, Math.round(win / secs), s.rescued];
    });
    o.print({ title: `wparse: ${engine.linesIn} lines in, ${engine.missLines} miss`, headers: ['Sink', 'State', 'Lines', 'Delivered', 'Rate/s', 'Rescued'], rows });
    last = new Map(cur.map((s) => [s.key, s]));
    lastAt = now;
  };
  let monitorBase = new Map(engine.stats().map((s) => [s.key, s]));
  const emitMonitor = async (): Promise<void> => {
    const cur = engine.stats().filter((s) => s.group !== 'monitor');
    await engine.emitMonitor(
      cur.map((s) => {
        const prev = monitorBase.get(s.key);
        return { key: s.key, lines: s.delivered - (prev?.delivered ?? 0), rescued: s.rescued - (prev?.rescued ?? 0), onRescue: s.onRescue };
      }),
      o.clock.now(),
    );
    monitorBase = new Map(engine.stats().map((s) => [s.key, s]));
  };
  let monitorBusy = Promise.resolve();
  let stopped = false;
  if (o.statSec) {
    const tick = (): void => {
      if (stopped) return;
      printStat();
      handles[0] = o.clock.setTimeout(tick, o.statSec! * 1000);
    };
    handles[0] = o.clock.setTimeout(tick, o.statSec * 1000);
  }
  if (engine.router.infra.monitor.length) {
    const tick = (): void => {
      if (stopped) return;
      monitorBusy = monitorBusy.then(emitMonitor).catch((err: unknown) => o.log.error({ err }, 'monitor emit failed'));
      handles[1] = o.clock.setTimeout(tick, o.wr.engine.stat.window_sec * 1000);
    };
    handles[1] = o.clock.setTimeout(tick, o.wr.engine.stat.window_sec * 1000);
  }
  return async () => {
    stopped = true;
    for (const h of handles) if (h) o.clock.clearTimeout(h);
    await monitorBusy;
    if (o.statSec) printStat();
  };
}
