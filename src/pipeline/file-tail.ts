import { isAscii } from 'node:buffer';
import { fstatSync, type promises as fsp } from 'node:fs';
import { sleep, type Clock } from '../platform/clock.js';
import { readLineBatches } from '../platform/line-reader.js';
import { plainLines } from '../platform/plain-lines.js';
import type { Logger } from '../platform/logger.js';
import { bytesUnchanged, fingerprint, headUnchanged, readBefore, readHead, tailHash, type Head } from './fingerprint.js';
import type { SourceBatch } from './source.js';
import { TAIL_BYTES, type FileCheckpoint, type SourceCheckpoint } from './source-checkpoint.js';

/**
 * A batch's `commitPart`: hashes the MARK_BYTES before line `count` from the read buffer (and the
 * bytes before it, `before`) at once, so the commit it returns writes the checkpoint's `tail`. Made
 * here, apart from the read loop, so the commit closures kept until durability do not hold the buffer.
 */
function partCommitter(buf: Buffer, base: number, starts: ArrayLike<number>, before: Buffer, commitAt: (count: number, tail: string) => void): (count: number) => () => void {
  return (count) => {
    const at = starts[count];
    if (at === undefined) return () => commitAt(count, ''); // the whole batch: its own tail
    const bytes = at >= MARK_BYTES ? buf.subarray(at - MARK_BYTES, at) : Buffer.concat([before, buf.subarray(0, at)]).subarray(-MARK_BYTES);
    const tail = bytes.length === Math.min(MARK_BYTES, base + at) ? tailHash(bytes) : '';
    return () => commitAt(count, tail);
  };
}

/** How many of the last bytes read are checked to be still in place (see `mark`): the checkpoint's `tail`. */
const MARK_BYTES = TAIL_BYTES;
const NOTHING: Buffer = Buffer.alloc(0);

export interface TailDeps {
  key: string;
  follow: boolean;
  batchSize: number;
  rotateWaitMs: number;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  ckpt: SourceCheckpoint;
  /** Resolves when some watched file changed (shared by every tail of the source). */
  wake: () => Promise<void>;
  /** Hands a batch to the source's consumer; resolves when there is room for the next. */
  push: (b: SourceBatch) => Promise<void>;
  pollMs?: number;
}

/** Starts a new generation of the same open file (truncated or rewritten in place): read from 0. */
export function nextGeneration(prev: FileCheckpoint, head: Head): FileCheckpoint {
  const gen = prev.gen + 1;
  return { fp: fingerprint(head.hash, prev.dev, prev.ino, gen), head: head.hash, tail: '', dev: prev.dev, ino: prev.ino, gen, offset: 0, msize: 0, mtime: 0n };
}

/**
 * Reads one input file through its open descriptor, from `entry.offset`, for as long as it lives:
 * in follow mode it waits at the end for more; when the file was renamed or deleted (`retire()`)
 * it goes on reading the old descriptor for `rotate_wait_ms` and stops at the next end of file
 * after that; when the file shrank below the read position, or its first bytes changed
 * (copytruncate, a rewrite in place), it starts a new generation at offset 0 with a log line.
 * Every batch commits to this file's own checkpoint entry. Record ids: `<key>:<fp>:<offset>`.
 */
export class FileTail {
  private retireAt: number | undefined;
  private restart: string | undefined;
  private lastMtime = -1n;
  /**
   * The last bytes read of this generation (at most MARK_BYTES, across reads) and where they lie: a
   * rewrite in place that keeps the first line (a CSV header) is told by them, else the new content
   * up to the old read position was skipped and the line across it torn. Their hash is the
   * checkpoint's `tail`, which tells the same after a restart.
   */
  private mark: { at: number; bytes: Buffer } | undefined;
  /**
   * The source's signal seen through one of this tail's own: every wait at EOF adds and removes an
   * abort listener, and adding one to an EventTarget costs a walk of its listeners (thousands of
   * tails waiting on the source's signal made each poll cost as much as all of them).
   */
  private readonly signal: AbortSignal;
  readonly done: Promise<void>;

  constructor(
    public path: string,
    private readonly fh: fsp.FileHandle,
    public entry: FileCheckpoint,
    private head: Head,
    private readonly d: TailDeps,
    private readonly onEntry: (e: FileCheckpoint) => void,
  ) {
    this.signal = AbortSignal.any([d.signal]);
    this.done = this.run();
  }

  get retiring(): boolean {
    return this.retireAt !== undefined;
  }

  /** The file is no longer at a matching path: finish it within rotate_wait_ms. */
  retire(): void {
    if (this.retireAt !== undefined) return;
    this.retireAt = this.d.clock.now() + this.d.rotateWaitMs;
    this.d.log.info({ source: this.d.key, file: this.path, rotate_wait_ms: this.d.rotateWaitMs }, 'input file rotated away: reading it to its end');
  }

  /** Seen again at a matching path (renamed within the glob): keep following it. */
  keep(path: string): void {
    this.path = path;
    this.retireAt = undefined;
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        this.onEntry(this.entry);
        const end = await this.readGeneration();
        if (this.signal.aborted || this.restart === undefined) {
          this.recordEnd(end);
          return;
        }
        this.d.log.warn({ source: this.d.key, file: this.path }, `input file ${this.restart}: reading it from the start`);
        this.restart = undefined;
        const head = await this.waitForHead(); // the new first line may not be written yet
        if (!head) return;
        this.head = head;
        this.entry = nextGeneration(this.entry, head);
      }
    } catch (err) {
      this.d.log.error({ source: this.d.key, file: this.path, err: err instanceof Error ? err.message : String(err) }, 'input file read failed: file dropped');
    } finally {
      await this.fh.close().catch(() => undefined);
    }
  }

  /** Reads the current generation; returns the offset just past the last line read. */
  private async readGeneration(): Promise<number> {
    const entry = this.entry;
    const idPrefix = `${this.d.key}:${entry.fp}:`;
    let last = entry.offset;
    const before = readBefore(this.fh.fd, entry.offset, MARK_BYTES);
    this.mark = before.length ? { at: entry.offset - before.length, bytes: before } : undefined;
    // the bytes before the current read buffer (the last batch's mark: a buffer starts where it ended)
    let bufBase = -1;
    let bufBefore = NOTHING;
    const reader = readLineBatches({
      file: this.fh,
      from: entry.offset,
      batchSize: this.d.batchSize,
      follow: this.d.follow,
      clock: this.d.clock,
      signal: this.signal,
      wake: this.d.wake,
      stopAtEof: (pos) => this.atEof(pos),
      changed: () => this.rewritten(),
      ...(this.d.pollMs ? { pollMs: this.d.pollMs } : {}),
    });
    for await (const b of reader) {
      if (b.base !== bufBase) {
        bufBase = b.base;
        bufBefore = this.mark && this.mark.at + this.mark.bytes.length === b.base ? this.mark.bytes : NOTHING;
      }
      const n = b.starts.length;
      const lines = new Array<string>(n);
      const positions = new Array<number>(n);
      const first = b.starts[0]!;
      const ascii = isAscii(b.buf.subarray(first, b.stops[n - 1]));
      // all ASCII (the usual log): decode the batch once and slice it, a byte offset being a
      // character offset; decoding each line on its own costs a native call per line
      const text = ascii ? b.buf.toString('latin1', first, b.stops[n - 1]) : '';
      for (let i = 0; i < n; i++) {
        lines[i] = ascii ? text.slice(b.starts[i]! - first, b.stops[i]! - first) : b.buf.toString('utf8', b.starts[i], b.stops[i]);
        positions[i] = b.base + b.starts[i]!;
      }
      const end = b.end;
      last = end;
      const endIdx = end - b.base;
      const markBytes = endIdx >= MARK_BYTES ? Buffer.from(b.buf.subarray(endIdx - MARK_BYTES, endIdx)) : Buffer.concat([bufBefore, b.buf.subarray(0, endIdx)]).subarray(-MARK_BYTES);
      this.mark = { at: end - markBytes.length, bytes: markBytes };
      // a tail of fewer bytes than a restart would read (never expected) is left unknown, not wrong
      const tail = markBytes.length === Math.min(MARK_BYTES, end) ? tailHash(markBytes) : '';
      // a partial commit ends where the first uncommitted line begins: exact in bytes
      const commitAt = (count: number, partTail: string): void => {
        entry.offset = count < n ? positions[count]! : end;
        entry.tail = count < n ? partTail : tail;
        this.d.ckpt.write(entry);
      };
      await this.d.push({
        lines,
        idPrefix,
        positions,
        plain: plainLines(b.buf, b.starts, b.stops),
        commit: (count = n) => commitAt(count, ''),
        commitPart: partCommitter(b.buf, b.base, b.starts, bufBefore, commitAt),
      });
    }
    return last;
  }

  /** At the end of the file (follow mode): truncated or rewritten? retired and past its wait? */
  private atEof(pos: number): boolean {
    const st = fstatSync(this.fh.fd, { bigint: true });
    if (Number(st.size) < pos) {
      this.restart = 'truncated';
      return true;
    }
    if (st.mtimeNs !== this.lastMtime) {
      this.lastMtime = st.mtimeNs;
      if (!this.sameContent()) {
        // a copytruncate between the fstat above and this look: say what it was
        this.restart = fstatSync(this.fh.fd).size < pos ? 'truncated' : 'rewritten';
        return true;
      }
    }
    if (Number(st.size) === pos) {
      this.entry.msize = pos;
      this.entry.mtime = st.mtimeNs;
    }
    return this.retireAt !== undefined && this.d.clock.now() >= this.retireAt;
  }

  /** Whether the open file no longer begins with this generation's head (checked after every read). */
  private rewritten(): boolean {
    if (this.sameContent()) return false;
    this.restart = 'rewritten';
    return true;
  }

  /** The file still begins with this generation's head and holds the last bytes read where they were. */
  private sameContent(): boolean {
    return headUnchanged(this.fh.fd, this.head) && (!this.mark || bytesUnchanged(this.fh.fd, this.mark.at, this.mark.bytes));
  }

  /** Batch mode: the file was read to `end`; remember size and mtime if that is all of it. */
  private recordEnd(end: number): void {
    if (this.d.follow) return;
    const st = fstatSync(this.fh.fd, { bigint: true });
    if (Number(st.size) === end) {
      this.entry.msize = end;
      this.entry.mtime = st.mtimeNs;
    }
  }

  /** After a truncation the new first line may not be complete yet. */
  private async waitForHead(): Promise<Head | undefined> {
    for (;;) {
      const head = readHead(this.fh.fd, !this.d.follow);
      if (head) return head;
      if (this.signal.aborted || (this.retireAt !== undefined && this.d.clock.now() >= this.retireAt)) return undefined;
      await Promise.race([sleep(this.d.clock, this.d.pollMs ?? 200, this.signal), this.d.wake()]);
    }
  }
}
