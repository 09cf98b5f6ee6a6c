import { isUtf8 } from 'node:buffer';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { findSink, type SinkSpec, type WorkRoot } from '../config/work-root.js';
import { WrError, errorMessage } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { moveIfPresent, writeFileAtomic } from '../platform/atomic-write.js';
import type { LineBatch } from '../platform/line-reader.js';
import type { JobHandler } from '../queue/controller.js';
import type { Job } from '../queue/job-state.js';
import { parseRescueJobId } from '../rescue/file-name.js';
import { rescueLayout, type RescueLayout } from '../rescue/layout.js';
import { asciiText, decodeRescueBytes, type AsciiText } from '../rescue/line-format.js';
import type { SinkBackend } from '../sinks/contract.js';
import type { SinkEntry } from '../record.js';
import { SINK_TYPES } from '../sinks/registry.js';
import type { RecoverCheckpoint } from './checkpoint.js';
import { FileDeleter } from './file-deleter.js';
import { RescueFile } from './rescue-file.js';
import { rejectedToErrorGroup } from './rejected-to-error.js';
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
  /** Builds a sink's backend (default: its type's createForReplay or create); tests inject fakes. */
  createBackend?: (spec: SinkSpec) => SinkBackend;
}

/**
 * Replays one rescue file into exactly the sink named by its path, through that sink's normal
 * formatter and backend (no failover here: a down target fails the attempt with SINK_UNAVAILABLE
 * and the queue retries it with backoff; one failed write or flush is one attempt). The file is
 * read as bytes (offsets and line numbers exact whatever the bytes), version 2 lines are checked
 * by CRC without a parse, and a json sink writes the stored record text. The checkpoint is the
 * start of the oldest line the sink has not confirmed (`unconfirmed()`), so a restart or a retry
 * resumes there. Finish order, crash-safe: flush the sink → checkpoint EOF → delete the file →
 * drop the entry → (controller) ACK. A job whose file is gone on start finished before a crash.
 */
export class ReplayHandler implements JobHandler {
  private readonly backends = new Map<string, Promise<SinkBackend>>();
  readonly stats = new Map<string, SinkReplayStats>();
  private readonly deleter: FileDeleter;
  /** Built once: building it joins half a dozen paths, a cost every one of 10k small files paid. */
  private readonly layout: RescueLayout;

  constructor(private readonly d: ReplayDeps) {
    this.layout = rescueLayout(d.rescueDir);
    this.deleter = new FileDeleter((file, err) => this.d.log.error({ file, err: errorMessage(err) }, 'deleting a replayed rescue file failed'), d.clock);
  }

  /** Resolves once every replayed file is deleted. */
  filesDeleted(): Promise<void> {
    return this.deleter.drain();
  }

  /** True while a replayed job's file waits for deletion (it is done: a rescan must not queue it again). */
  finishing(jobId: string): boolean {
    return this.deleter.has(path.join(this.d.rescueDir, jobId));
  }

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
    if ('error' in route) throw new WrError('REPLAY_ROUTE_UNKNOWN', route.error);
    const file = path.join(this.d.rescueDir, job.id);
    const rf = RescueFile.open(file);
    if (!rf) {
      await this.d.checkpoint.remove(job.id);
      this.d.log.info({ job: job.id }, 'rescue file already gone (finished before a restart)');
      return;
    }
    if (rf.size === 0 && this.d.clock.now() - rf.mtimeMs < EMPTY_SETTLE_MS) {
      // seen between its creation and its first write (written in place, not renamed in): deleting
      // it now would lose what comes next. The job completes; a rescan finds the file again.
      this.d.log.info({ job: job.id }, 'rescue file empty and new: kept for a later scan');
      return;
    }
    const lines = await this.replayFile(job, route.spec, rf, signal);
    // written in place while replayed (a `cp` into the directory): keep it, and the retry reads it again
    if (rf.changed()) throw new WrError('IO_ERROR', `rescue file ${job.id} changed while it was replayed (written in place? move files in with a rename); it is kept and replayed again`);
    // Crash-safe finish: EOF is checkpointed (durably) before the file goes, and the entry is dropped
    // after; the job is done once EOF is checkpointed (a file that outlives a crash replays nothing).
    this.deleter.delete(file, () => this.d.checkpoint.remove(job.id));
    this.d.log.info({ job: job.id, sink: route.spec.key, lines }, 'replay finished, file queued for deletion');
  }

  /** Replays one open file from its checkpoint to EOF; returns its line count. */
  private async replayFile(job: Job, spec: SinkSpec, rf: RescueFile, signal: AbortSignal): Promise<number> {
    const { identity, size } = rf;
    const saved = this.d.checkpoint.get(job.id);
    // a version 1 entry has no identity: one past the file's end cannot be this file's (resuming there would skip it whole)
    const same = saved !== undefined && (saved.file === undefined || saved.file === identity) && saved.offset <= size;
    if (saved && !same) this.d.log.warn({ job: job.id, offset: saved.offset, size }, 'checkpoint entry belongs to an earlier file of the same name or lies past its end: starting at 0');
    let cp: Position = same ? { offset: saved.offset, lines: saved.lines } : { offset: 0, lines: 0 };
    const backend = await this.backendFor(spec);
    const stats = this.statsFor(spec.key);
    const replayed = this.d.metrics?.replayedLines.labels(spec.group, spec.name);
    this.d.log.info({ job: job.id, sink: spec.key, ...cp }, cp.offset ? 'replay resumed' : 'replay begun');
    const badFile = this.layout.badLinesFile(job.id);
    const window = new UnconfirmedWindow();
    const save = async (p: Position): Promise<void> => {
      if (p.offset === cp.offset) return;
      cp = p;
      await this.d.checkpoint.set(job.id, { ...p, file: identity });
    };
    /** A failed write or flush: resume from the oldest entry the sink cannot vouch for, and fail the attempt. */
    const fail = async (outcome: { reason: string }, from: Position): Promise<never> => {
      await save(window.oldest() ?? from);
      stats.lastError = outcome.reason;
      throw new WrError('SINK_UNAVAILABLE', `sink ${spec.key} unavailable: ${outcome.reason}`);
    };
    const confirmed = (n: number): void => {
      stats.replayed += n;
      stats.lastProgressAt = this.d.clock.now();
      stats.lastError = undefined;
      replayed?.inc(n);
    };

    let lines = cp.lines;
    const maxBatch = Math.min(this.d.batchSize, this.d.limiter.chunk);
    for await (const b of rf.batches(cp.offset, maxBatch, this.d.clock)) {
      const entries: SinkEntry[] = [];
      const at: number[] = []; // file offset where each entry's line starts
      const before: number[] = []; // lines before it
      const bad: BadLine[] = [];
      const n = b.starts.length;
      let ascii: AsciiText | undefined;
      let asciiEnd = 0; // lines before this index are covered by `ascii`'s window
      for (let i = 0; i < n; i++) {
        if (i >= asciiEnd) [ascii, asciiEnd] = asciiWindow(b, i);
        const s = b.starts[i]!;
        const e = b.stops[i]!;
        lines++;
        if (e === s) {
          stats.skippedEmpty++;
          continue;
        }
        const dec = decodeRescueBytes(b.buf, s, e, ascii);
        if (dec.ok) {
          entries.push(dec.entry);
          at.push(b.base + s);
          before.push(lines - 1);
        } else bad.push(badLine(b.buf.subarray(s, e), lines, b.base + s, dec.reason));
      }
      if (bad.length) await this.setAside(job, badFile, bad, stats);
      const end: Position = { offset: b.end, lines };
      if (entries.length === 0) {
        if (window.size === 0) await save(end);
        continue;
      }
      const outcome = await this.d.limiter.schedule(entries.length, () => backend.write(entries));
      if (outcome.rejected?.length) {
        stats.rejected += outcome.rejected.length;
        const rejected = outcome.rejected.map((r) => ({ entry: entries[r.index]!, reason: r.reason }));
        const to = await rejectedToErrorGroup(this.d.wr, this.d.rescueDir, spec, rejected, this.d.clock.now());
        if (to) this.d.log.warn({ job: job.id, sink: spec.key, count: rejected.length, reason: rejected[0]!.reason, files: to }, 'records rejected during replay: sent to the error group');
        else await appendJsonl(this.layout.rejectedFile(job.id), rejected.map((r) => ({ reason: r.reason, entry: plainEntry(r.entry) })));
      }
      if (outcome.status === 'unavailable') {
        // A backend with a window (unconfirmed) vouches for none of this batch; one without, for `accepted`.
        const trusted = backend.unconfirmed ? 0 : outcome.accepted;
        if (window.size === 0) confirmed(trusted);
        await fail(outcome, trusted < entries.length ? { offset: at[trusted]!, lines: before[trusted]! } : end);
      }
      if (backend.unconfirmed) {
        window.push(at, before);
        confirmed(window.confirm(backend.unconfirmed()));
      } else confirmed(entries.length);
      await save(window.oldest() ?? end);
      if (signal.aborted) throw new Error('aborted');
    }
    if (backend.flush) {
      const outcome = await backend.flush();
      if (outcome.status === 'unavailable') await fail(outcome, cp);
    }
    confirmed(window.confirm(0));
    await save({ offset: size, lines });
    return lines;
  }

  private async setAside(job: Job, badFile: string, bad: BadLine[], stats: SinkReplayStats): Promise<void> {
    stats.bad += bad.length;
    await appendJsonl(badFile, bad);
    for (const b of bad) this.d.log.warn({ job: job.id, line: b.line, offset: b.offset, reason: b.reason }, 'invalid rescue line copied to dead/');
  }

  /** A dead job's file is quarantined in dead/ with a `.reason` beside it. */
  async onDead(job: Job, reason: string): Promise<void> {
    const layout = rescueLayout(this.d.rescueDir);
    const from = layout.jobFile(job.id);
    const to = layout.deadFile(job.id);
    await moveIfPresent(from, to); // one removed by an operator still gets its reason written
    await writeFileAtomic(layout.reasonFile(job.id), `${reason}\n`);
    this.d.log.error({ job: job.id, reason, quarantined: to }, 'rescue file quarantined');
  }

  private backendFor(spec: SinkSpec): Promise<SinkBackend> {
    let b = this.backends.get(spec.key);
    if (!b) {
      const type = SINK_TYPES[spec.type]!;
      const ctx = { workRoot: this.d.wr.root, clock: this.d.clock };
      const backend = this.d.createBackend?.(spec) ?? (type.createForReplay ?? type.create)(spec.params, ctx);
      b = backend.open().then(
        () => backend,
        () => backend, // a backend that cannot open now reports unavailable on write and is retried
      );
      this.backends.set(spec.key, b);
    }
    return b;
  }

  async close(): Promise<void> {
    await this.deleter.drain();
    for (const b of this.backends.values()) await (await b).close().catch(() => undefined);
  }
}

/** An empty rescue file younger than this may still be being written: it is not finished (deleted) yet. */
export const EMPTY_SETTLE_MS = 2000;

interface Position {
  offset: number;
  lines: number;
}

interface BadLine {
  line: number;
  offset: number;
  reason: string;
  text: string;
  /** The line's exact bytes, when they are not UTF-8 (`text` then holds U+FFFD for what it cannot carry). */
  base64?: string;
}

/** An invalid line as copied to dead/<job>.bad.jsonl: the file goes once replayed, so this copy is all that is left of it. */
function badLine(bytes: Buffer, line: number, offset: number, reason: string): BadLine {
  return { line, offset, reason, text: bytes.toString('utf8'), ...(isUtf8(bytes) ? {} : { base64: bytes.toString('base64') }) };
}

/**
 * Entries written to a sink that it cannot vouch for yet (`unconfirmed()`), oldest first, as the
 * file position where each one's line starts: the checkpoint never moves past the oldest.
 */
class UnconfirmedWindow {
  private offsets: number[] = [];
  private lines: number[] = [];
  private head = 0;

  get size(): number {
    return this.offsets.length - this.head;
  }

  push(offsets: number[], lines: number[]): void {
    for (let i = 0; i < offsets.length; i++) {
      this.offsets.push(offsets[i]!);
      this.lines.push(lines[i]!);
    }
  }

  /** Keeps the newest `unconfirmed` entries; returns how many became confirmed. */
  confirm(unconfirmed: number): number {
    const n = Math.max(0, this.size - unconfirmed);
    this.head += n;
    if (this.head === this.offsets.length) {
      this.offsets = [];
      this.lines = [];
      this.head = 0;
    } else if (this.head > 1 << 16) {
      this.offsets = this.offsets.slice(this.head);
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  oldest(): Position | undefined {
    return this.size ? { offset: this.offsets[this.head]!, lines: this.lines[this.head]! } : undefined;
  }
}

/**
 * The lines from `i` on that fit in 32 KiB (at least one), as one string when they are all ASCII,
 * and the index past them. Decoding a window at once is far cheaper than line by line, and it stays
 * under V8's large-object size (128 KiB), above which a string costs several times more to make.
 */
function asciiWindow(b: LineBatch, i: number): [AsciiText | undefined, number] {
  const limit = b.starts[i]! + ASCII_WINDOW;
  let j = i + 1;
  while (j < b.starts.length && b.stops[j]! <= limit) j++;
  return [asciiText(b.buf, b.starts[i]!, b.stops[j - 1]!), j];
}

const ASCII_WINDOW = 32 * 1024;

/** An entry as plain JSON for dead/*.rejected.jsonl, where rejections with no error group to take them go (a replayed record parses its fields here). */
function plainEntry(e: SinkEntry): Record<string, unknown> {
  return e.kind === 'raw' ? { id: e.id, kind: e.kind, raw: e.raw } : { id: e.id, kind: e.kind, record: e.record };
}

async function appendJsonl(file: string, items: unknown[]): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.appendFile(file, items.map((i) => `${JSON.stringify(i)}\n`).join(''));
}
