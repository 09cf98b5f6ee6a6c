import { promises as fsp } from 'node:fs';
import { sleep, type Clock } from '../platform/clock.js';

/**
 * Reads a file from a byte offset in 1 MiB chunks and yields batches of whole lines with the byte
 * offset where each starts. `\r\n` endings are stripped. In follow mode it waits for more data at
 * EOF (and never yields a line without its `\n`); otherwise a last unterminated line counts.
 */
export interface SourceBatch {
  lines: string[];
  offsets: number[];
  /** Byte offset just past the last line of the batch. */
  end: number;
}

export interface ReadOptions {
  path: string;
  from: number;
  batchSize: number;
  follow: boolean;
  clock: Clock;
  signal?: AbortSignal;
  pollMs?: number;
}

const CHUNK = 1 << 20;

export async function* readLines(opts: ReadOptions): AsyncGenerator<SourceBatch> {
  const fh = await fsp.open(opts.path, 'r');
  let ahead: Promise<{ bytesRead: number }> | undefined;
  try {
    let pos = opts.from;
    let carry: Buffer = Buffer.alloc(0);
    let carryStart = pos;
    let lines: string[] = [];
    let offsets: number[] = [];
    let end = pos;
    // Two buffers: the next chunk is read while the lines of this one are parsed and written.
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let which = 0;
    for (;;) {
      if (opts.signal?.aborted) break;
      const buf = bufs[which]!;
      const { bytesRead } = await (ahead ?? fh.read(buf, 0, CHUNK, pos));
      ahead = undefined;
      if (bytesRead === CHUNK) {
        which ^= 1;
        ahead = fh.read(bufs[which]!, 0, CHUNK, pos + bytesRead);
      }
      if (bytesRead === 0) {
        if (lines.length) {
          yield { lines, offsets, end };
          lines = [];
          offsets = [];
        }
        if (!opts.follow) {
          if (carry.length > 0) yield { lines: [stripCr(carry.toString('utf8'))], offsets: [carryStart], end: carryStart + carry.length };
          break;
        }
        await sleep(opts.clock, opts.pollMs ?? 200, opts.signal);
        continue;
      }
      const data = buf.subarray(0, bytesRead);
      const base = pos;
      pos += bytesRead;
      let start = 0;
      if (carry.length) {
        // The line that straddles two chunks: join only its pieces, not the whole chunk.
        const nl = data.indexOf(10);
        if (nl < 0) {
          carry = Buffer.concat([carry, data]);
          continue;
        }
        lines.push(stripCr(Buffer.concat([carry, data.subarray(0, nl)]).toString('utf8')));
        offsets.push(carryStart);
        start = nl + 1;
        end = base + start;
        carry = Buffer.alloc(0);
        if (lines.length >= opts.batchSize) {
          yield { lines, offsets, end };
          lines = [];
          offsets = [];
        }
      }
      for (;;) {
        const nl = data.indexOf(10, start);
        if (nl < 0) break;
        lines.push(stripCr(data.toString('utf8', start, nl)));
        offsets.push(base + start);
        start = nl + 1;
        end = base + start;
        if (lines.length >= opts.batchSize) {
          yield { lines, offsets, end };
          lines = [];
          offsets = [];
        }
      }
      carry = Buffer.from(data.subarray(start));
      carryStart = base + start;
    }
  } finally {
    await ahead?.catch(() => undefined);
    await fh.close();
  }
}

function stripCr(s: string): string {
  return s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s;
}
