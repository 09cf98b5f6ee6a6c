import { existsSync, statSync } from 'node:fs';
import { WrError } from '../errors.js';
import type { Clock } from '../platform/clock.js';
import { readLineBatches } from '../platform/line-reader.js';
import type { Logger } from '../platform/logger.js';
import type { Source, SourceBatch } from './source.js';
import { SourceCheckpoint } from './source-checkpoint.js';

export interface FileSourceOptions {
  key: string;
  /** Absolute path of the input file. */
  path: string;
  from: 'start' | 'end' | 'checkpoint';
  batchSize: number;
  follow: boolean;
  /** Absolute path of this source's checkpoint file. */
  checkpointFile: string;
  clock: Clock;
  log: Logger;
}

/**
 * `type: file`: reads one file from its checkpoint (or `from`), line batches with exact byte
 * offsets, and moves the checkpoint as the pipeline commits batches. Record ids are
 * `<key>:<byte offset>`.
 */
export class FileSource implements Source {
  private readonly ckpt: SourceCheckpoint;

  constructor(private readonly o: FileSourceOptions) {
    this.ckpt = new SourceCheckpoint(o.checkpointFile);
  }

  get key(): string {
    return this.o.key;
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const { o } = this;
    if (!existsSync(o.path)) throw new WrError('SOURCE_FAILED', `source ${o.key}: input file ${o.path} does not exist`);
    const st = statSync(o.path);
    let from = 0;
    if (o.from === 'end') from = st.size;
    if (o.from === 'checkpoint') {
      const saved = await this.ckpt.read();
      if (saved && saved.ino === st.ino && saved.offset <= st.size) from = saved.offset;
      else if (saved) o.log.warn({ source: o.key, file: o.path }, 'input file replaced or shrunk since the checkpoint: reading from the start');
    }
    o.log.info({ source: o.key, file: o.path, from }, 'source started');
    const idPrefix = `${o.key}:`;
    for await (const b of readLineBatches({ file: o.path, from, batchSize: o.batchSize, follow: o.follow, clock: o.clock, signal })) {
      const lines = new Array<string>(b.starts.length);
      const positions = new Array<number>(b.starts.length);
      for (let i = 0; i < lines.length; i++) {
        lines[i] = b.buf.toString('utf8', b.starts[i], b.stops[i]);
        positions[i] = b.base + b.starts[i]!;
      }
      const end = b.end;
      yield {
        lines,
        idPrefix,
        positions,
        // a partial commit ends where the first uncommitted line begins: exact in bytes
        commit: (count = lines.length) => this.ckpt.write(st.ino, count < lines.length ? positions[count]! : end),
      };
    }
  }

  async close(): Promise<void> {
    this.ckpt.close();
  }
}
