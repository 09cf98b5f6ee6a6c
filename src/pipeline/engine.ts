import path from 'node:path';
import type { WorkRoot } from '../config/work-root.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import { RescueBudget } from '../rescue/budget.js';
import type { Written } from '../rescue/writer.js';
import type { SinkEntry } from '../record.js';
import { SINK_TYPES } from '../sinks/registry.js';
import { FailoverSink, type RejectedEntry, type SinkWritten } from '../sinks/runtime.js';
import type { PipelineHealth } from './health.js';
import type { SourceBatch } from './source.js';
import { Router, withTags, type RoutedSink } from './router.js';
import { compileRules } from './rules.js';

export interface SinkStats {
  key: string;
  group: string;
  sink: string;
  delivered: number;
  rescued: number;
  rejected: number;
}

export interface EngineDeps {
  clock: Clock;
  log?: Logger;
  metrics?: Metrics;
  fs?: FsPort;
  random?: () => number;
  /** A graceful stop: a write blocked on a full rescue directory stops waiting. */
  signal?: AbortSignal;
  health?: PipelineHealth;
}

/** A batch's writes: `durable` once every sink holds it; `confirmed` once every sink also vouches for it. */
export interface BatchWritten extends Written {
  confirmed?: Promise<void>;
}

interface SinkSlot {
  routed: RoutedSink;
  runtime: FailoverSink;
  stats: SinkStats;
}

/**
 * Sources → rules → router → sinks. One FailoverSink per configured sink; a batch is parsed and
 * routed into one entry list per sink, the lists are written in parallel, and the batch counts as
 * delivered when every sink reports it durable. Lines no rule parses go to `miss`; records a sink
 * rejects go to `error` with the reason. Nothing is dropped silently: what has no destination is
 * counted in `unrouted`.
 */
export class Engine {
  private readonly slots: SinkSlot[] = [];
  private readonly slotByRouted = new Map<RoutedSink, number>();
  private readonly parse: ReturnType<typeof compileRules>;
  readonly router: Router;
  readonly log: Logger;
  readonly rescueBudget: RescueBudget;
  linesIn = 0;
  missLines = 0;
  unrouted = 0;

  constructor(
    readonly wr: WorkRoot,
    private readonly deps: EngineDeps,
  ) {
    this.log = deps.log ?? silentLogger();
    this.parse = compileRules(wr.rules);
    this.router = new Router(wr.groups);
    const rescueDir = path.resolve(wr.root, wr.engine.rescue.path);
    const { max_bytes, when_full } = wr.engine.rescue;
    deps.metrics?.rescueMaxBytes.set(max_bytes);
    this.rescueBudget = new RescueBudget({
      dir: rescueDir, maxBytes: max_bytes, whenFull: when_full, clock: deps.clock,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(deps.metrics ? { onBytes: (b: number) => deps.metrics!.rescueBytes.set(b) } : {}),
    });
    const allRouted = [
      ...this.router.infra.default, ...this.router.infra.miss, ...this.router.infra.error, ...this.router.infra.monitor,
    ];
    const seen = new Set<RoutedSink>();
    const add = (routed: RoutedSink): void => {
      if (seen.has(routed)) return;
      seen.add(routed);
      const { spec } = routed;
      const stats: SinkStats = { key: spec.key, group: spec.group, sink: spec.name, delivered: 0, rescued: 0, rejected: 0 };
      const m = deps.metrics;
      const out = m?.recordsOut.labels(spec.group, spec.name);
      const resc = m?.rescueLines.labels(spec.group, spec.name);
      const active = m?.failoverActive.labels(spec.group, spec.name);
      active?.set(0);
      const backend = SINK_TYPES[spec.type]!.create(spec.params, { workRoot: wr.root, clock: deps.clock, ...(deps.fs ? { fs: deps.fs } : {}) });
      const runtime = new FailoverSink(backend, {
        group: spec.group,
        sink: spec.name,
        rescueDir,
        durability: wr.engine.rescue.durability,
        flushMs: wr.engine.rescue.flush_ms,
        reconnect: wr.engine.reconnect,
        clock: deps.clock,
        ...(deps.random ? { random: deps.random } : {}),
        ...(deps.fs ? { fs: deps.fs } : {}),
        log: this.log,
        onDelivered: (n) => {
          stats.delivered += n;
          out?.inc(n);
        },
        onRescued: (n) => {
          stats.rescued += n;
          resc?.inc(n);
        },
        onFailover: (on) => active?.set(on ? 1 : 0),
        budget: this.rescueBudget,
        ...(m ? { onDropped: (n: number) => m.rescueDropped.labels(spec.group, spec.name).inc(n) } : {}),
        onRescueFailing: (err) => deps.health?.rescueWrite(spec.key, err),
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      this.slotByRouted.set(routed, this.slots.length);
      this.slots.push({ routed, runtime, stats });
    };
    for (const g of this.router.business) for (const r of g.sinks) add(r);
    for (const r of allRouted) add(r);
  }

  async open(): Promise<void> {
    this.rescueBudget.start();
    await Promise.all(this.slots.map((s) => s.runtime.open()));
  }

  stats(): Array<SinkStats & { onRescue: boolean }> {
    return this.slots.map((s) => ({ ...s.stats, onRescue: s.runtime.onRescue }));
  }

  /**
   * Routes and writes one batch; resolves when written, with `durable` for the reader's
   * backpressure and `confirmed` (TCP sinks) which the source commit waits for too. The records
   * sinks reject are written to `error` as part of the same batch, so both cover them.
   */
  async processBatch(batch: SourceBatch): Promise<BatchWritten> {
    const lists: SinkEntry[][] = this.slots.map(() => []);
    const { lines, positions, idPrefix, plain } = batch;
    const miss = this.router.infra.miss;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const id = `${idPrefix}${positions[i]!}`;
      const parsed = line.length === 0 ? undefined : this.parse(line);
      if (!parsed) {
        this.missLines++;
        if (miss.length === 0) this.unrouted++;
        for (const r of miss) lists[this.slotByRouted.get(r)!]!.push({ id, kind: 'raw', raw: line });
        continue;
      }
      let delivered = false;
      const isPlain = parsed.fromLine && plain?.[i] === 1;
      for (const groupSinks of this.router.groupsFor(parsed.rule)) {
        for (const r of groupSinks) {
          if (r.filter && !r.filter(parsed.record)) continue;
          // tags are config text, not known plain
          lists[this.slotByRouted.get(r)!]!.push({ id, kind: 'record', record: withTags(parsed.record, r.tags), plain: isPlain && r.tags.length === 0 });
          delivered = true;
        }
      }
      if (!delivered) this.unrouted++;
    }
    this.linesIn += lines.length;
    return this.writeLists(lists);
  }

  /** Writes records to the monitor group (one per sink and window). */
  async emitMonitor(windowStats: Array<{ key: string; lines: number; rescued: number; onRescue: boolean }>, ts: number): Promise<void> {
    const lists: SinkEntry[][] = this.slots.map(() => []);
    windowStats.forEach((w, i) => {
      const record = { ts: new Date(ts).toISOString(), sink: w.key, lines: w.lines, rescue_lines: w.rescued, failover: w.onRescue };
      for (const r of this.router.infra.monitor) lists[this.slotByRouted.get(r)!]!.push({ id: `monitor:${ts}:${i}`, kind: 'record', record });
    });
    await (await this.writeLists(lists)).durable;
  }

  private async writeLists(lists: SinkEntry[][]): Promise<BatchWritten> {
    const writes: Array<Promise<SinkWritten>> = [];
    const writers: SinkSlot[] = [];
    lists.forEach((entries, i) => {
      if (!entries.length) return;
      writes.push(this.slots[i]!.runtime.write(entries));
      writers.push(this.slots[i]!);
    });
    const results = await Promise.all(writes);
    const durables = results.map((w) => w.durable);
    const confirmations = results.flatMap((w) => (w.confirmed ? [w.confirmed] : []));
    const errors = results.flatMap((w, i) => (w.rejected.length ? this.toErrorEntries(writers[i]!, w.rejected) : []));
    if (errors.length) {
      const errLists: SinkEntry[][] = this.slots.map(() => []);
      for (const r of this.router.infra.error) errLists[this.slotByRouted.get(r)!]!.push(...errors);
      if (this.router.infra.error.length === 0) this.unrouted += errors.length;
      const errWritten = await this.writeLists(errLists);
      durables.push(errWritten.durable);
      if (errWritten.confirmed) confirmations.push(errWritten.confirmed);
    }
    const durable = Promise.all(durables).then(() => undefined);
    return confirmations.length ? { durable, confirmed: Promise.all(confirmations).then(() => undefined) } : { durable };
  }

  /** Asks every sink to confirm what it wrote (end of a source's input, a stop), so its commits can follow. */
  async confirmAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.runtime.confirmAll()));
  }

  /** Rejected records as `error` group entries (`_sink`, `_error` added); the error group's own rejections are counted, not looped. */
  private toErrorEntries(slot: SinkSlot, rejected: RejectedEntry[]): SinkEntry[] {
    slot.stats.rejected += rejected.length;
    const { spec } = slot.routed;
    if (spec.group === 'error') {
      this.unrouted += rejected.length;
      this.log.error({ sink: spec.key, count: rejected.length, reason: rejected[0]?.reason }, 'the error group itself rejected records: counted as unrouted');
      return [];
    }
    return rejected.map(({ entry, reason }) => {
      const base = entry.kind === 'raw' ? { raw: entry.raw ?? '' } : (entry.record ?? {});
      return { id: entry.id, kind: 'record', record: { ...base, _sink: spec.key, _error: reason } };
    });
  }

  /** Graceful stop: every rescue file released (renamed .dat), every backend closed. */
  async close(): Promise<string[]> {
    await Promise.all(this.slots.map((s) => s.runtime.close()));
    this.rescueBudget.stop();
    return this.slots.flatMap((s) => s.runtime.released);
  }
}
