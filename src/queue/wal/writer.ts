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

interface Waiter {
  data: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Appends events to the current segment. Appends are queued and written in FIFO order; with
 * `fsync: always` every waiting append shares the next fdatasync (group commit), so an append
 * resolves only once it is on disk. `batch` writes at once and syncs every few ms; `none` never
 * syncs (a kill -9 loses nothing, a power cut may). A failed write is cut back to the last
 * whole line so a later append never lands behind half a record.
 */
export class WalWriter {
  private fh: fsp.FileHandle | undefined;
  private file = '';
  private size = 0;
  private seq: number;
  private queue: Waiter[] = [];
  private flushing = false;
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

  /** Assigns seqs at once (in call order) and resolves when the events are written per policy. */
  append(events: Array<Omit<QueueEvent, 'seq'>>): { events: QueueEvent[]; done: Promise<void> } {
    const withSeq = events.map((e) => ({ ...e, seq: this.seq++ }));
    const data = withSeq.map(encodeEvent).join('');
    const done = new Promise<void>((resolve, reject) => this.queue.push({ data, resolve, reject }));
    if (!this.flushing) void this.flushLoop();
    return { events: withSeq, done };
  }

  /** Closes the current segment and starts a new one at the next seq. */
  async rotate(): Promise<void> {
    await this.drain();
    await this.closeSegment();
    await this.startSegment();
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.syncTimer) this.clock.clearTimeout(this.syncTimer);
    await this.closeSegment();
  }

  private async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private async startSegment(): Promise<void> {
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
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const buf = Buffer.from(batch.map((w) => w.data).join(''));
          await this.writeAll(buf);
          if (this.opts.fsync === 'always') await this.timedSync();
          else if (this.opts.fsync === 'batch') this.scheduleSync();
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
        if (this.size >= (this.opts.segmentBytes ?? 64 * 1024 * 1024) && this.queue.length === 0) {
          await this.closeSegment();
          await this.startSegment();
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeAll(buf: Buffer): Promise<void> {
    const fh = this.fh!;
    try {
      await this.fs.write(fh, buf);
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
