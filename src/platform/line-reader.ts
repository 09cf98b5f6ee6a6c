import { fstatSync, promises as fsp } from 'node:fs';
import { sleep, type Clock } from './clock.js';

/**
 * The one line reader, shared by file sources and replay. It works on bytes: a file is read from
 * a byte offset in 1 MiB chunks, line ends are found with `Buffer.indexOf(0x0a)`, and each batch
 * gives the byte range of every line inside one buffer, so offsets are exact whatever the bytes
 * are (invalid UTF-8 included) and nothing is decoded that the caller does not ask for.
 *
 * Invariants:
 * - `buf.subarray(starts[i], stops[i])` is line i without its `\n` (and without a `\r` before it);
 *   the line begins at file offset `base + starts[i]`;
 * - `end` is the file offset just past the `\n` of the batch's last line (or past the last byte of
 *   a final line without `\n`, which counts only when not following);
 * - a batch's `buf` is never reused by the reader: callers may keep slices of it.
 * In follow mode the reader waits at EOF (polling every `pollMs`, or until `wake()` resolves) and
 * never yields a line without its `\n`; once at EOF it reads again only when fstat shows the file
 * grew (a daemon following thousands of idle files would otherwise allocate a 1 MiB buffer and
 * queue a read per file per poll, enough to keep a core busy and starve the files that do grow).
 * With a `wake` (a watcher that reports changes), the poll is only the safety net: it backs off
 * while the file stays idle, doubling up to IDLE_POLL_FACTOR × `pollMs`, and is back at `pollMs`
 * once the file grows (3,000 idle files cost 0.30 of a core at a fixed 200 ms poll).
 */
export interface LineBatch {
  buf: Buffer;
  starts: number[];
  stops: number[];
  /** File offset of `buf[0]`. */
  base: number;
  end: number;
}

export interface LineReadOptions {
  /** A path to open, or an open handle (left open). */
  file: string | fsp.FileHandle;
  from: number;
  batchSize: number;
  follow: boolean;
  clock: Clock;
  signal?: AbortSignal;
  pollMs?: number;
  /** In follow mode: resolves when the file may have grown (a watcher event); polling stays the safety net. */
  wake?: () => Promise<void>;
  /**
   * In follow mode, asked at each EOF with the offset reached (past any unfinished line): true stops
   * (without waiting, the unfinished line yielded as the last): a rotated file is read to its end.
   */
  stopAtEof?: (pos: number) => boolean;
  /**
   * In follow mode, asked after every read that returned bytes: true when the file was rewritten in
   * place under the handle (copytruncate, then written past the read position before the reader
   * got there). The bytes just read are then not the file the reader was in: they are dropped and
   * the reader stops as at EOF, the caller starting the new content from 0 (else what lay past the
   * old read position was read twice, its first line torn).
   */
  changed?: () => boolean;
}

const CHUNK = 1 << 20;
/** How far an idle file's poll backs off, as a multiple of `pollMs`, when a watcher wakes the reader. */
export const IDLE_POLL_FACTOR = 10;

export async function* readLineBatches(opts: LineReadOptions): AsyncGenerator<LineBatch> {
  const owned = typeof opts.file === 'string';
  const fh = typeof opts.file === 'string' ? await fsp.open(opts.file, 'r') : opts.file;
  let ahead: Promise<{ buf: Buffer; n: number; want: number }> | undefined;
  // An unfinished line is copied into each next buffer, so a line longer than a chunk makes the read
  // as long as the line so far: a line of n bytes costs O(n) copying, not O(n² / CHUNK) (a 128 MB
  // line took about 7 s with fixed chunks).
  const readAt = async (carry: Buffer, pos: number): Promise<{ buf: Buffer; n: number; want: number }> => {
    const want = Math.max(CHUNK, carry.length);
    const buf = Buffer.allocUnsafe(carry.length + want);
    carry.copy(buf, 0);
    const { bytesRead } = await fh.read(buf, carry.length, want, pos);
    return { buf, n: bytesRead, want };
  };
  try {
    let pos = opts.from; // file offset of the next byte to read
    let carry: Buffer = Buffer.alloc(0); // bytes of a line not yet ended, file offset pos - carry.length
    let atEof = false;
    let idlePollMs = opts.pollMs ?? 200;
    for (;;) {
      if (opts.signal?.aborted) return;
      const { buf, n, want }: { buf: Buffer; n: number; want: number } = atEof && fstatSync(fh.fd).size <= pos ? { buf: carry, n: 0, want: 0 } : await (ahead ?? readAt(carry, pos));
      ahead = undefined;
      atEof = n === 0;
      const replaced = n > 0 && opts.follow && opts.changed?.() === true;
      if (n === 0 || replaced) {
        if (!opts.follow || replaced || opts.stopAtEof?.(pos)) {
          if (carry.length > 0) {
            const stop = carry[carry.length - 1] === 13 ? carry.length - 1 : carry.length;
            yield { buf: carry, starts: [0], stops: [stop], base: pos - carry.length, end: pos };
          }
          return;
        }
        await Promise.race([sleep(opts.clock, idlePollMs, opts.signal), ...(opts.wake ? [opts.wake()] : [])]);
        if (opts.wake) idlePollMs = Math.min(idlePollMs * 2, (opts.pollMs ?? 200) * IDLE_POLL_FACTOR);
        continue;
      }
      idlePollMs = opts.pollMs ?? 200;
      const base = pos - carry.length;
      const len = carry.length + n;
      pos += n;
      // just past the chunk's last \n (0: none); the carried bytes hold none, so only the new ones are searched
      const nl = buf.subarray(len - n, len).lastIndexOf(10);
      const tail = nl < 0 ? 0 : len - n + nl + 1;
      carry = buf.subarray(tail, len);
      // The next chunk is read while the caller works on this one's lines.
      if (n === want) ahead = readAt(carry, pos);
      let start = 0;
      let starts: number[] = [];
      let stops: number[] = [];
      while (start < tail) {
        const nl = buf.indexOf(10, start);
        starts.push(start);
        stops.push(nl > start && buf[nl - 1] === 13 ? nl - 1 : nl);
        start = nl + 1;
        if (starts.length >= opts.batchSize) {
          yield { buf, starts, stops, base, end: base + start };
          starts = [];
          stops = [];
        }
      }
      if (starts.length) yield { buf, starts, stops, base, end: base + start };
    }
  } finally {
    await ahead?.catch(() => undefined);
    if (owned) await fh.close();
  }
}
