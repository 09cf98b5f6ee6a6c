import { closeSync, fdatasyncSync, fsyncSync, openSync, promises as fsp, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
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
  const tmp = tmpPathFor(target);
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

/**
 * Moves `from` to `to` (making `to`'s directory), or does nothing when `from` is gone: no look
 * first, since a file an operator removes between a look and the rename made the rename throw.
 */
export async function moveIfPresent(from: string, to: string): Promise<void> {
  await fsp.mkdir(path.dirname(to), { recursive: true });
  await fsp.rename(from, to).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
  });
}

/** The temp name: a dot file beside the target, so directory watchers and scanners skip it. */
export function tmpPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
}

/**
 * The same protocol with synchronous calls, for small files replaced on a hot path (the replay
 * checkpoint after every batch): four thread-pool round trips per batch cost more than the work.
 */
export function writeFileAtomicSync(target: string, data: string, durable: boolean): void {
  const tmp = tmpPathFor(target);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    if (durable) fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, target);
  if (durable) syncDirSync(path.dirname(target));
}

/** fsync of a directory, so the renames and creations in it survive a power cut. */
export function syncDirSync(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
