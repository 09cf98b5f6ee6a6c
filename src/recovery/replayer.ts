import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { findSink, type SinkSpec, type WorkRoot } from '../config/work-root.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { PermanentJobError, type JobHandler } from '../queue/controller.js';
import type { Job } from '../queue/job-state.js';
import { parseRescueJobId } from '../rescue/file-name.js';
import { decodeRescueLine } from '../rescue/line-format.js';
import type { SinkBackend } from '../sinks/contract.js';
import type { SinkEntry } from '../record.js';
import { SINK_TYPES } from '../sinks/registry.js';
import type { RecoverCheckpoint } from './checkpoint.js';
import { lineBatches } from './line-batches.js';
import type { RateLimiter } from './rate-limiter.js';

export interface SinkReplayStats {
  key: string;
  replayed: number;
  skippedEmpty: number;
  bad: number;
  rejected: number;
  lastProgressAt: number;
  lastError?: string;
}

export interface ReplayDeps {
  wr: WorkRoot;
  rescueDir: string;
  checkpoint: RecoverCheckpoint;
  limiter: RateLimiter;
  batchSize: number;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
}

export class SinkDownError extends Error {}

/**
 * Replays one rescue file into exactly the sink named by its path, through that sink's normal
 * formatter and backend (no failover here: a down target fails the attempt and the queue retries
 * it with backoff). Resumes at the checkpointed byte offset; advances it after every batch the
 * sink acknowledged. Finish order, crash-safe: checkpoint at EOF → delete file → drop checkpoint
 * entry → (controller) ACK. A job whose file is gone on start is one that finished before a crash.
 */
export class ReplayHandler implements JobHandler {
  private readonly backends = new Map<string, Promise<SinkBackend>>();
  readonly stats = new Map<string, SinkReplayStats>();

  constructor(private readonly d: ReplayDeps) {}

  statsFor(key: string): SinkReplayStats {
    let s = this.stats.get(key);
    if (!s) {
      s = { key, replayed: 0, skippedEmpty: 0, bad: 0, rejected: 0, lastProgressAt: this.d.clock.now() };
      this.stats.set(key, s);
    }
    return s;
  }

  /** Routing check without I/O: the sink a job id names, or why it has none. */
  route(jobId: string): { spec: SinkSpec } | { error: string } {
    const route = parseRescueJobId(jobId);
    if (!route) return { error: `file name does not parse as <group>/<sink>-YYYY-MM-DD_HH:MM:SS-<seq>.dat` };
    const spec = findSink(this.d.wr, route.group, route.name.sink);
    if (!spec) return { error: `no sink ${route.name.sink} in group ${route.group} in the config` };
    return { spec };
  }

  async run(job: Job, signal: AbortSignal): Promise<void> {
    const route = this.route(job.id);
    if ('error' in route) throw new PermanentJobError(route.error);
    const { spec } = route;
    const file = path.join(this.d.rescueDir, job.id);
    if (!existsSync(file)) {
      await this.d.checkpoint.remove(job.id);
      this.d.log.info({ job: job.id }, 'rescue file already gone (finished before a restart)');
      return;
    }
    const backend = await this.backendFor(spec);
    const stats = this.statsFor(spec.key);
    const replayed = this.d.metrics?.replayedLines.labels(spec.group, spec.name);
    let { offset, lines } = this.d.checkpoint.get(job.id) ?? { offset: 0, lines: 0 };
    this.d.log.info({ job: job.id, sink: spec.key, offset, lines }, offset ? 'replay resumed' : 'replay begun');
    const maxBatch = Math.min(this.d.batchSize, this.d.limiter.chunk);
    let entries: SinkEntry[] = [];
    let ends: number[] = [];
    let lineNos: number[] = [];
    let pos = offset;
    let lineNo = lines;
    const badFile = path.join(this.d.rescueDir, 'dead', `${job.id}.bad.jsonl`);
    // ends and line numbers of written entries the sink has not confirmed: the checkpoint stays before them
    const held: Array<{ ends: number[]; lineNos: number[] }> = [];
    let heldCount = 0;

    const flush = async (): Promise<void> => {
      const batch = entries;
      const batchEnds = ends;
      const batchLineNos = lineNos;
      const endPos = pos;
      const endLine = lineNo;
      entries = [];
      ends = [];
      lineNos = [];
      if (batch.length === 0) {
        if (endPos !== offset && heldCount === 0) await this.d.checkpoint.set(job.id, { offset: (offset = endPos), lines: (lines = endLine) });
        return;
      }
      const outcome = await this.d.limiter.schedule(batch.length, () => backend.write(batch));
      if (outcome.rejected?.length) {
        stats.rejected += outcome.rejected.length;
        await appendJsonl(
          path.join(this.d.rescueDir, 'dead', `${job.id}.rejected.jsonl`),
          outcome.rejected.map((r) => ({ reason: r.reason, entry: batch[r.index] })),
        );
      }
      if (outcome.status === 'unavailable') {
        if (outcome.accepted > 0) {
          const acceptedEnd = batchEnds[outcome.accepted - 1]!;
          await this.d.checkpoint.set(job.id, { offset: acceptedEnd, lines: batchLineNos[outcome.accepted - 1]! });
          stats.replayed += outcome.accepted;
          replayed?.inc(outcome.accepted);
        }
        stats.lastError = outcome.reason;
        throw new SinkDownError(`sink ${spec.key} unavailable: ${outcome.reason}`);
      }
      const unconfirmed = backend.unconfirmed?.() ?? 0;
      if (unconfirmed === 0) {
        held.length = heldCount = 0;
        await this.d.checkpoint.set(job.id, { offset: (offset = endPos), lines: (lines = endLine) });
      } else {
        held.push({ ends: batchEnds, lineNos: batchLineNos });
        heldCount += batchEnds.length;
        let confirmed = heldCount - Math.min(unconfirmed, heldCount);
        heldCount -= confirmed;
        let to: { offset: number; lines: number } | undefined;
        for (let c = held[0]; c && confirmed > 0; c = held[0]) {
          const k = Math.min(confirmed, c.ends.length);
          to = { offset: c.ends[k - 1]!, lines: c.lineNos[k - 1]! };
          confirmed -= k;
          if (k === c.ends.length) held.shift();
          else held[0] = { ends: c.ends.slice(k), lineNos: c.lineNos.slice(k) };
        }
        if (to) await this.d.checkpoint.set(job.id, { offset: (offset = to.offset), lines: (lines = to.lines) });
      }
      stats.replayed += batch.length;
      stats.lastProgressAt = this.d.clock.now();
      stats.lastError = undefined;
      replayed?.inc(batch.length);
    };

    for await (const batch of lineBatches(file, offset, maxBatch)) {
      for (const line of batch) {
        pos += Buffer.byteLength(line) + 1;
        lineNo++;
        if (line.length === 0) {
          stats.skippedEmpty++;
          continue;
        }
        const dec = decodeRescueLine(line);
        if (dec.ok) {
          entries.push(dec.entry);
          ends.push(pos);
          lineNos.push(lineNo);
        } else {
          stats.bad++;
          await appendJsonl(badFile, [{ line: lineNo, offset: pos - Buffer.byteLength(line) - 1, reason: dec.reason, text: line }]);
          this.d.log.warn({ job: job.id, line: lineNo, reason: dec.reason }, 'invalid rescue line copied to dead/');
        }
      }
      await flush();
      if (signal.aborted) throw new Error('aborted');
    }
    const tail = (await backend.flush?.()) ?? { status: 'ok' };
    if (tail.status === 'unavailable') {
      stats.lastError = tail.reason;
      throw new SinkDownError(`sink ${spec.key} unavailable: ${tail.reason}`);
    }
    if (pos !== offset) await this.d.checkpoint.set(job.id, { offset: pos, lines: lineNo });
    await fsp.unlink(file);
    await this.d.checkpoint.remove(job.id);
    this.d.log.info({ job: job.id, sink: spec.key, lines: lineNo }, 'replay finished, file deleted');
  }

  /** A dead job's file is quarantined in dead/ with a `.reason` beside it. */
  async onDead(job: Job, reason: string): Promise<void> {
    const from = path.join(this.d.rescueDir, job.id);
    const to = path.join(this.d.rescueDir, 'dead', job.id);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    if (existsSync(from)) await fsp.rename(from, to);
    await fsp.writeFile(`${to}.reason`, `${reason}\n`);
    this.d.log.error({ job: job.id, reason, quarantined: to }, 'rescue file quarantined');
  }

  private backendFor(spec: SinkSpec): Promise<SinkBackend> {
    let b = this.backends.get(spec.key);
    if (!b) {
      const type = SINK_TYPES[spec.type]!;
      const ctx = { workRoot: this.d.wr.root, clock: this.d.clock };
      const backend = (type.createForReplay ?? type.create)(spec.params, ctx);
      b = backend.open().then(
        () => backend,
        () => backend, // a backend that cannot open now reports unavailable on write and is retried
      );
      this.backends.set(spec.key, b);
    }
    return b;
  }

  async close(): Promise<void> {
    for (const b of this.backends.values()) await (await b).close().catch(() => undefined);
  }
}

async function appendJsonl(file: string, items: unknown[]): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.appendFile(file, items.map((i) => `${JSON.stringify(i)}\n`).join(''));
}
