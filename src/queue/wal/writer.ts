import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../../platform/clock.js';
import { realFs, type FsPort } from '../../platform/fs-port.js';
import type { QueueEvent } from '../job-state.js';
import { encodeEvent } from './format.js';
import { walName } from './segment-name.js';

export type WalFsync = 'always' | 'batch' | 'none';

export interface WalWriterOptions {
  dir: string;
  fsync: WalFsync;
  /** seq of the next event. */
  nextSeq: number;
  /** Append to this existing segment (its valid length) instead of starting a new one. */
  resume?: { file: string; bytes: number };
  segmentBytes?: number;
  batchSyncMs?: number;
  fs?: FsPort;
  clock?: Clock;
  onFsync?: (seconds: number) => void;
}

type Item =
  | { kind: 'write'; events: Array<Omit<QueueEvent, 'seq'>>; resolve: (events: QueueEvent[]) => void; reject: (err: unknown) => void }
  | { kind: 'rotate'; resolve: () => void; reject: (err: unknown) => void };

/**
 * Appends events to the current segment. Appends and rotations are queued and carried out in
 * order by one loop, so a segment's name is always the seq of the first event written into it.
 * seqs are assigned when events are written, so an event still queued at a crash never leaves a
 * hole or a name ahead of the data. With `fsync: always` every waiting append shares the next
 * fdatasync (group commit) and resolves only once it is on disk; `batch` writes at once and syncs
 * every few ms; `none` never syncs (a kill -9 loses nothing, a power cut may). A failed write is
 * cut back to the last whole line so a later append never lands behind half a record.
 */
export class WalWriter {
  private fh: fsp.FileHandle | undefined;
  private file = '';
  private size = 0;
  private seq: number;
  private queue: Item[] = [];
  private flushing: Promise<void> | undefined;
  private syncTimer: TimerHandle | undefined;
  private dirty = false;
  private readonly fs: FsPort;
  private readonly clock: Clock;

  private constructor(private readonly opts: WalWriterOptions) {
    this.seq = opts.nextSeq;
    this.fs = opts.fs ?? realFs;
    this.clock = opts.clock ?? systemClock;
  }

  static async open(opts: WalWriterOptions): Promise<WalWriter> {
    const w = new WalWriter(opts);
    await w.fs.mkdir(opts.dir);
    if (opts.resume) {
      // Append mode: every write lands at the end (the torn tail, if any, was cut before this).
      w.fh = await w.fs.open(opts.resume.file, 'a');
      w.file = opts.resume.file;
      w.size = opts.resume.bytes;
    } else {
      await w.startSegment();
    }
    return w;
  }

  get nextSeq(): number {
    return this.seq;
  }

  get currentSegment(): string {
    return this.file;
  }

  /** Resolves with the events and their seqs once they are written (and synced, per policy). */
  append(events: Array<Omit<QueueEvent, 'seq'>>): Promise<QueueEvent[]> {
    return new Promise<QueueEvent[]>((resolve, reject) => this.push({ kind: 'write', events, resolve, reject }));
  }

  /** Closes the current segment and starts a new one at the next seq, after every earlier append. */
  rotate(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.push({ kind: 'rotate', resolve, reject }));
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.syncTimer) this.clock.clearTimeout(this.syncTimer);
    await this.closeSegment();
  }

  private push(item: Item): void {
    this.queue.push(item);
    this.flushing ??= this.runLoop();
  }

  /**
   * The loop starts a microtask after the first push, so every append made in the same synchronous
   * run (a scan enqueueing thousands of files) goes out in one write. An append resolves inside the
   * loop, so its caller can push the next item after the loop saw an empty queue but before
   * `flushing` is cleared: the loop starts again for whatever is left.
   */
  private runLoop(): Promise<void> {
    return Promise.resolve()
      .then(() => this.flushLoop())
      .finally(() => {
        this.flushing = this.queue.length > 0 ? this.runLoop() : undefined;
      });
  }

  private async startSegment(): Promise<void> {
    // the queue directory may have been removed under a running daemon (`rm -rf data/.run`)
    await this.fs.mkdir(this.opts.dir);
    this.file = path.join(this.opts.dir, walName(this.seq));
    this.fh = await this.fs.open(this.file, 'a+');
    this.size = (await this.fh.stat()).size;
    await this.fs.syncDir(this.opts.dir);
  }

  private async closeSegment(): Promise<void> {
    if (!this.fh) return;
    if (this.dirty && this.opts.fsync !== 'none') await this.timedSync();
    await this.fh.close();
    this.fh = undefined;
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'rotate') {
        this.queue.shift();
        try {
          await this.closeSegment();
          await this.startSegment();
          head.resolve();
        } catch (err) {
          head.reject(err);
        }
        continue;
      }
      const batch: Array<Extract<Item, { kind: 'write' }>> = [];
      while (this.queue[0]?.kind === 'write') batch.push(this.queue.shift() as Extract<Item, { kind: 'write' }>);
      try {
        // a rotation that failed (no directory, no space) left no segment open: start one, named by the batch's first seq
        if (!this.fh) await this.startSegment();
      } catch (err) {
        for (const w of batch) w.reject(err);
        continue;
      }
      const first = this.seq;
      const written = batch.map((w) => w.events.map((e) => ({ ...e, seq: this.seq++ })));
      try {
        await this.writeAll(Buffer.from(written.map((evs) => evs.map(encodeEvent).join('')).join('')));
        if (this.opts.fsync === 'always') await this.timedSync();
        else if (this.opts.fsync === 'batch') this.scheduleSync();
        batch.forEach((w, i) => w.resolve(written[i]!));
      } catch (err) {
        this.seq = first; // nothing of the batch is on disk: its seqs are free again
        for (const w of batch) w.reject(err);
      }
      if (this.size >= (this.opts.segmentBytes ?? 64 * 1024 * 1024) && this.queue.length === 0) {
        await this.closeSegment();
        await this.startSegment().catch(() => undefined); // no segment open: the next append tries again and fails alone
      }
    }
  }

  /**
   * A synchronous write: appending a few hundred bytes to the page cache takes microseconds, less
   * than a thread-pool round trip, and with many small rescue files every job paid two of those
   * (DISPATCH, ACK) on its critical path. The fdatasync of `fsync: always` stays asynchronous, so
   * the appends made while it runs share the next one.
   */
  private async writeAll(buf: Buffer): Promise<void> {
    const fh = this.fh!;
    try {
      this.fs.writeSync(fh, buf);
      this.size += buf.length;
      this.dirty = true;
    } catch (err) {
      await this.fs.truncate(fh, this.size).catch(() => undefined);
      throw err;
    }
  }

  private async timedSync(): Promise<void> {
    const t0 = performance.now();
    await this.fs.datasync(this.fh!);
    this.dirty = false;
    this.opts.onFsync?.((performance.now() - t0) / 1000);
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = this.clock.setTimeout(() => {
      this.syncTimer = undefined;
      if (this.fh && this.dirty) void this.timedSync().catch(() => undefined);
    }, this.opts.batchSyncMs ?? 10);
  }
}
