import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync, statSync, type BigIntStats } from 'node:fs';
import { crc32 } from 'node:zlib';
import { WrError, errnoCode } from '../errors.js';
import type { Clock } from '../platform/clock.js';
import { readLineBatches, type LineBatch } from '../platform/line-reader.js';

/** Files up to this size are read whole, synchronously: see RescueFile. */
export const SMALL_FILE_BYTES = 1 << 20;

/**
 * A released rescue file opened for replay: its identity and size, and its lines from a byte
 * offset. A released file never changes, so a small one (the common case with many short outage
 * episodes) is read whole with one synchronous read: from the page cache that takes microseconds,
 * where the open/stat/read/close round trips through the thread pool cost milliseconds per file on
 * a loaded machine. A large one streams through the shared line reader.
 */
export class RescueFile {
  private constructor(
    private readonly path: string,
    readonly size: number,
    /** Inode, birth time, size and CRC-32 of the first 4 KiB: a new file under an old name differs. */
    readonly identity: string,
    private readonly whole: Buffer | undefined,
    /** Inode, size and mtime when opened, for `changed()`. */
    private readonly stamp: string,
    /** Last modification, ms since the epoch. */
    readonly mtimeMs: number,
    private readonly ino: bigint,
  ) {}

  /**
   * True when the file under this path is no longer the one opened: replaced, or written since (a
   * file copied into the rescue directory in place, `cp` rather than `mv`, is replayed while it is
   * still being written). Deleting it then would lose what was written after the read.
   */
  changed(): boolean {
    try {
      return stampOf(statSync(this.path, { bigint: true })) !== this.stamp;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false; // gone: nothing left to protect
      throw err;
    }
  }

  /** Opens `file`, or undefined when it does not exist. */
  static open(file: string): RescueFile | undefined {
    let fd: number;
    try {
      // non-blocking: opening a FIFO for reading would otherwise wait for a writer, with the whole
      // process (signals included) stuck in this synchronous call; a regular file is unaffected
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw new WrError('RESCUE_NOT_A_FILE', `rescue file ${file} is not a regular file (a FIFO, socket or device): not read`);
      const size = Number(st.size);
      const whole = size <= SMALL_FILE_BYTES ? readAll(fd, size) : undefined;
      const head = whole ? whole.subarray(0, 4096) : readAll(fd, Math.min(size, 4096));
      const identity = `${st.ino}-${st.birthtimeNs}-${size}-${crc32(head).toString(16)}`;
      return new RescueFile(file, size, identity, whole, stampOf(st), Number(st.mtimeMs), st.ino);
    } finally {
      closeSync(fd); // a large file is streamed through its own handle
    }
  }

  /**
   * The lines from byte offset `from`, in batches of at most `batchSize` (see LineBatch). A large
   * file is opened again by name, and refused when another file took that name since `open`
   * (an `mv` over it): its lines would go out under this file's checkpoint, then again from 0.
   */
  async *batches(from: number, batchSize: number, clock: Clock): AsyncGenerator<LineBatch> {
    if (this.whole) {
      yield* splitBatches(this.whole, from, batchSize);
      return;
    }
    const fh = await fsp.open(this.path, 'r');
    try {
      if ((await fh.stat({ bigint: true })).ino !== this.ino) {
        throw new WrError('IO_ERROR', `rescue file ${this.path} was replaced while it was replayed (moved over?); the new file is replayed from its start`);
      }
      yield* readLineBatches({ file: fh, from, batchSize, follow: false, clock });
    } finally {
      await fh.close();
    }
  }
}

function stampOf(st: BigIntStats): string {
  return `${st.ino}-${st.size}-${st.mtimeNs}`;
}

function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The same batches readLineBatches gives (a last line without `\n` counts; a `\r` before `\n` is cut). */
export function* splitBatches(buf: Buffer, from: number, batchSize: number): Generator<LineBatch> {
  let start = from;
  while (start < buf.length) {
    const starts: number[] = [];
    const stops: number[] = [];
    while (start < buf.length && starts.length < batchSize) {
      let nl = buf.indexOf(10, start);
      const next = nl < 0 ? buf.length : nl + 1;
      if (nl < 0) nl = buf.length;
      starts.push(start);
      stops.push(nl > start && buf[nl - 1] === 13 ? nl - 1 : nl);
      start = next;
    }
    yield { buf, starts, stops, base: 0, end: start };
  }
}
