import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { WrError } from '../errors.js';
import type { WorkRoot } from '../config/work-root.js';
import type { SourceConfig } from '../config/work-root-schema.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import type { Logger } from '../platform/logger.js';
import { renderTable } from '../cli/table.js';
import { Engine } from './engine.js';
import { readLines } from './file-source.js';
import { SourceCheckpoint } from './source-checkpoint.js';

export interface PipelineRunOptions {
  wr: WorkRoot;
  mode: 'batch' | 'daemon';
  maxLines?: number;
  statSec?: number;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  print: (text: string) => void;
  /** File operations of sinks and rescue writers (tests inject ENOSPC here). */
  fs?: FsPort;
}

export interface PipelineSummary {
  linesIn: number;
  miss: number;
  unrouted: number;
  sinks: ReturnType<Engine['stats']>;
  released: string[];
  seconds: number;
}

const MAX_UNCOMMITTED = 256;

/**
 * `wparse batch|daemon`: reads every enabled source from its start point, feeds the engine, and
 * advances each source checkpoint in order, only past batches every sink holds durably. Stops at
 * end of input (batch) or on the abort signal; then releases rescue files and writes the final
 * checkpoint.
 */
export async function runPipeline(o: PipelineRunOptions): Promise<PipelineSummary> {
  const t0 = o.clock.now();
  const engine = new Engine(o.wr, { clock: o.clock, log: o.log, ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.fs ? { fs: o.fs } : {}) });
  const runDir = path.resolve(o.wr.root, 'data', '.run');
  const sources = o.wr.sources.filter((s) => s.enable);
  for (const s of sources) {
    const p = path.resolve(o.wr.root, s.params.path);
    if (!existsSync(p)) throw new WrError('SOURCE_FAILED', `source ${s.key}: input file ${p} does not exist`);
  }
  await engine.open();
  const budget = { left: o.maxLines ?? Infinity };
  const stopStat = startStatTimers(engine, o);
  try {
    await Promise.all(
      sources.map((s) => runSource(s, engine, o, runDir, budget)),
    );
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

async function runSource(s: SourceConfig, engine: Engine, o: PipelineRunOptions, runDir: string, budget: { left: number }): Promise<void> {
  const file = path.resolve(o.wr.root, s.params.path);
  const ino = statSync(file).ino;
  const ckpt = new SourceCheckpoint(SourceCheckpoint.pathFor(runDir, s.key));
  let from = 0;
  if (s.params.from === 'end') from = statSync(file).size;
  if (s.params.from === 'checkpoint') {
    const saved = await ckpt.read();
    if (saved && saved.ino === ino && saved.offset <= statSync(file).size) from = saved.offset;
    else if (saved) o.log.warn({ source: s.key, file }, 'input file replaced or shrunk since the checkpoint: reading from the start');
  }
  o.log.info({ source: s.key, file, from }, 'source started');
  const linesIn = o.metrics?.linesIn.labels(s.key);
  // fsync / none: the next batch is read only once the previous one is checkpointed, so a kill -9
  // repeats at most one batch. batch: batches waiting for the rescue group commit may run ahead
  // (repeats bounded by one flush window); everything already durable is checkpointed first.
  const strict = o.wr.engine.rescue.durability !== 'batch';
  const pending: Array<{ end: number; durable: Promise<void>; done: boolean }> = [];
  const commitReady = async (waitAll: boolean): Promise<void> => {
    await Promise.resolve(); // let already-resolved durability callbacks mark their batches done
    let last: number | undefined;
    while (pending.length) {
      const head = pending[0]!;
      if (!head.done) {
        if (!waitAll) break;
        await head.durable;
      }
      pending.shift();
      last = head.end;
    }
    if (last !== undefined) ckpt.write(ino, last);
  };
  try {
    for await (const batch of readLines({ path: file, from, batchSize: o.wr.engine.performance.batch_size, follow: o.mode === 'daemon', clock: o.clock, signal: o.signal })) {
      const n = Math.min(batch.lines.length, budget.left);
      budget.left -= n;
      if (n < batch.lines.length) {
        batch.lines.length = n;
        batch.offsets.length = n;
        if (n > 0) batch.end = batch.offsets[n - 1]! + Buffer.byteLength(batch.lines[n - 1]!) + 1;
      }
      if (n > 0) {
        const { durable } = await engine.processBatch(s.key, batch);
        linesIn?.inc(n);
        const entry = { end: batch.end, durable, done: false };
        void durable.then(() => (entry.done = true));
        pending.push(entry);
        await commitReady(strict || pending.length > MAX_UNCOMMITTED);
      }
      if (budget.left === 0 || o.signal.aborted) break;
    }
  } finally {
    await commitReady(true);
    ckpt.close();
  }
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
    o.print(`wparse: ${engine.linesIn} lines in, ${engine.missLines} miss\n${renderTable(['Sink', 'State', 'Lines', 'Delivered', 'Rate/s', 'Rescued'], rows)}`);
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
