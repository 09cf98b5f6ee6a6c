import { existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import { markAlive } from '../platform/pid-alive.js';
import { ownerLockPath, ownerPidPath } from './layout.js';
import { OWNER_STALE_MS } from './writer.js';

/**
 * Salvage of `.dat.lock` files whose writer is gone. The writer is gone when the pid beside its
 * owner lock is not a live process of our pid namespace, or, when the pid cannot tell (none, or
 * one of another namespace: another container on the same volume), when the lock (or, without a
 * lock, the file) has not changed for OWNER_STALE_MS: a live writer refreshes its lock. A live
 * writer's file is never touched. Salvage cuts the torn last line (bytes after the last `\n`),
 * syncs, renames to `.dat` and removes the owner lock.
 */
export type OwnerState = 'live' | 'gone' | 'unknown';

/**
 * Whether the writer of `lockFile` is alive: by the pid beside its owner lock, or, when that
 * cannot tell, by the age of the lock (or, without one, of the file). Also asked of a `.dat.lock`
 * that does not exist but whose owner does: a writer between claiming the name and creating the
 * file, or one killed there; with neither lock nor file, nothing is left to wait for.
 */
export function ownerState(lockFile: string, now = Date.now()): OwnerState {
  try {
    const alive = markAlive(readFileSync(ownerPidPath(lockFile), 'utf8'));
    if (alive !== undefined) return alive ? 'live' : 'gone';
  } catch {
    // no pid: an older writer, or one between taking the lock and writing its pid
  }
  const ref = mtimeMs(ownerLockPath(lockFile)) ?? mtimeMs(lockFile);
  return ref === undefined || now - ref >= OWNER_STALE_MS ? 'gone' : 'unknown';
}

function mtimeMs(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Removes the owner lock and pid of a `.dat.lock` that does not exist, when its writer is gone; true if it did. */
export async function clearOrphanOwner(lockFile: string, now = Date.now()): Promise<boolean> {
  if (existsSync(lockFile) || ownerState(lockFile, now) !== 'gone') return false;
  await removeOwner(lockFile);
  return true;
}

async function removeOwner(lockFile: string): Promise<void> {
  await fsp.rm(ownerLockPath(lockFile), { recursive: true, force: true });
  await fsp.rm(ownerPidPath(lockFile), { force: true });
}

export interface SalvageResult {
  file: string;
  tornBytes: number;
  /** The salvaged file's size: the caller need not stat a name someone may have removed since. */
  bytes: number;
}

/**
 * Salvages `lockFile`; undefined when it is gone by then. A listing can name a `.dat.lock` that its
 * writer releases before the owner is asked: the writer renames it to `.dat` and only then drops
 * its pid and lock, so the owner check finds nothing and answers 'gone'; the `.dat` is found by
 * the next pass. (A live writer's file is never opened here: its pid outlives its `.dat.lock`.)
 */
export async function salvage(lockFile: string, fs: FsPort = realFs): Promise<SalvageResult | undefined> {
  const fh = await fsp.open(lockFile, 'r+').catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (!fh) return undefined;
  let tornBytes: number;
  let keep: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      // a FIFO or device: nothing to cut or sync (fdatasync fails on it, which stopped wprescue);
      // released as it is, its replay quarantines it unread (RESCUE_NOT_A_FILE)
      tornBytes = 0;
      keep = 0;
    } else {
      const size = st.size;
      const tailLen = Math.min(size, 1 << 20);
      const tail = Buffer.alloc(tailLen);
      await fh.read(tail, 0, tailLen, size - tailLen);
      const nl = tail.lastIndexOf(10);
      keep = nl >= 0 ? size - tailLen + nl + 1 : size > tailLen ? size : 0;
      tornBytes = size - keep;
      if (tornBytes > 0) await fh.truncate(keep);
      await fh.datasync();
    }
  } finally {
    await fh.close();
  }
  const dat = lockFile.slice(0, -'.lock'.length);
  try {
    await fs.rename(lockFile, dat);
  } catch (err) {
    // removed (an operator's rm) since it was opened: nothing left to salvage; its owner is an
    // orphan the next pass clears. Thrown, it stopped the scan, and a first scan stopped wprescue.
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  await removeOwner(lockFile);
  const gone = await fs.syncDir(path.dirname(dat)).then(
    () => false,
    (err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return true; // its directory removed since the rename: the file with it
      throw err;
    },
  );
  if (gone) return undefined;
  return { file: dat, tornBytes, bytes: keep };
}
