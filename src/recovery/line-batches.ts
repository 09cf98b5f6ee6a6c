import { createReadStream } from 'node:fs';
import split2 from 'split2';

/**
 * Streams the lines of a file from a byte offset (split2 on `\n`) in batches of at most
 * `maxBatch`. The stream is paused while the caller handles a batch, so memory stays at about one
 * read chunk whatever the file size, and no promise is created per line.
 */
export async function* lineBatches(file: string, offset: number, maxBatch: number): AsyncGenerator<string[]> {
  const stream = createReadStream(file, { start: offset, highWaterMark: 1 << 20 }).pipe(split2('\n'));
  let batch: string[] = [];
  let ended = false;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on('data', (line: string) => {
    batch.push(line);
    if (batch.length >= maxBatch) {
      stream.pause();
      notify();
    }
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  stream.on('error', (err: Error) => {
    failed = err;
    notify();
  });
  try {
    for (;;) {
      if (batch.length < maxBatch && !ended && failed === undefined) await new Promise<void>((r) => (wake = r));
      if (failed !== undefined) throw failed;
      const out = batch;
      batch = [];
      if (out.length > 0) yield out;
      if (ended && batch.length === 0) return;
      stream.resume();
    }
  } finally {
    stream.destroy();
  }
}
