import path from 'node:path';
import { realFs, type FsPort } from './fs-port.js';

export interface AtomicWriteOptions {
  /** fsync the temp file before the rename and the directory after it (default true). */
  durable?: boolean;
  fs?: FsPort;
}

/**
 * Replaces `target` with `data` so that a reader, or a restart after a crash at any point, sees
 * either the old or the new content, never a mix: tmp → fsync → rename → fsync dir.
 */
export async function writeFileAtomic(target: string, data: string | Buffer, opts: AtomicWriteOptions = {}): Promise<void> {
  const fs = opts.fs ?? realFs;
  const durable = opts.durable ?? true;
  const tmp = `${target}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fs.write(fh, data);
    if (durable) await fs.datasync(fh);
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, target);
  if (durable) await fs.syncDir(path.dirname(target));
}
