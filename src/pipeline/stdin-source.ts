import type { Readable } from 'node:stream';
import { errorMessage, WrError } from '../errors.js';
import type { Source, SourceBatch } from './source.js';

export interface StdinSourceOptions {
  key: string;
  batchSize: number;
  /** Standard input (a pipe or a file); injected so tests can hand in any stream. */
  input: Readable;
}

/**
 * `type: stdin`: lines from standard input until EOF (in batch and daemon mode alike). A pipe can
 * be read only once, so there is no checkpoint: `commit` does nothing, and a crash loses what the
 * writer had sent and the pipeline had not delivered. Record ids are `<key>:<byte offset>` from
 * the start of the stream; a final line without `\n` counts.
 */
export class StdinSource implements Source {
  constructor(private readonly o: StdinSourceOptions) {}

  get key(): string {
    return this.o.key;
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const idPrefix = `${this.o.key}:`;
    // the bytes of a line not ended yet, as read: joined once its end comes (joining them at every
    // chunk copied a line of n chunks n times: a 32 MB line took seconds, a 128 MB one minutes)
    let carry: Buffer[] = [];
    let base = 0; // stream offset of the first carried byte
    let lines: string[] = [];
    let positions: number[] = [];
    const batch = (): SourceBatch => {
      const b = { lines, idPrefix, positions, commit: (): void => undefined };
      lines = [];
      positions = [];
      return b;
    };
    const onAbort = (): void => void this.o.input.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const data of this.o.input) {
        const chunk = data as Buffer;
        if (chunk.indexOf(10) < 0) {
          carry.push(chunk);
          if (signal.aborted) return;
          continue;
        }
        const buf = carry.length ? Buffer.concat([...carry, chunk]) : chunk;
        let start = 0;
        for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
          lines.push(buf.toString('utf8', start, nl > start && buf[nl - 1] === 13 ? nl - 1 : nl));
          positions.push(base + start);
          start = nl + 1;
          if (lines.length >= this.o.batchSize) yield batch();
        }
        carry = start < buf.length ? [buf.subarray(start)] : [];
        base += start;
        if (lines.length) yield batch();
        if (signal.aborted) return;
      }
      if (carry.length) {
        const last = Buffer.concat(carry);
        lines.push(last.toString('utf8', 0, last[last.length - 1] === 13 ? last.length - 1 : last.length));
        positions.push(base);
      }
      if (lines.length) yield batch();
    } catch (err) {
      if (!signal.aborted) throw new WrError('SOURCE_FAILED', `source ${this.o.key}: standard input: ${errorMessage(err)}`, err);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {}
}
