import { constants as fsConstants, existsSync, promises as fsp2, type promises as fsp } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { WrError, errnoCode } from '../errors.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import { processMark } from '../platform/pid-alive.js';
import type { SinkEntry } from '../record.js';
import { formatRescueName } from './file-name.js';
import { encodeRescueBatch } from './line-format.js';
import { ownerLockPath, ownerPidPath } from './layout.js';

export type Durability = 'fsync' | 'batch' | 'none';

/** The bytes `append` writes for these entries (the rescue cap needs the size before writing). */
export { encodeRescueBatch };

/** Wraps the durability promise so that `await` on a write does not also wait for durability. */
export interface Written {
  durable: Promise<void>;
}

export const DURABLE_NOW: Written = { durable: Promise.resolve() };

/**
 * The writer's ownership lock (a proper-lockfile directory) lives beside the file under a name
 * that never ends in `.lock`; it holds a `pid` file so a salvager can tell at once that the writer
 * is gone after a kill -9, without waiting for the lock to go stale.
 */
export const OWNER_STALE_MS = 10_000;

export interface RescueWriterOptions {
  rescueDir: string;
  group: string;
  sink: string;
  durability: Durability;
  flushMs: number;
  clock: Clock;
  fs?: FsPort;
  log?: Logger;
  /** With `none`: bytes appended between two background syncs (default BACKGROUND_SYNC_BYTES). */
  backgroundSyncBytes?: number;
}

/**
 * With `durability: none` nothing waits for a sync until the release, which must then flush the
 * whole episode at once (spilling 1M lines, about 285 MB: 0.1–0.3 s with the pipeline stopped at
 * the end). A sync every this many bytes, which nothing awaits, runs in the thread pool while
 * parsing goes on, so the release has at most this much left. No promise changes: `none` still
 * counts a record delivered once it is written.
 */
export const BACKGROUND_SYNC_BYTES = 32 * 1024 * 1024;

/**
 * One rescue file for one outage episode of one sink: `<group>/<sink>-<UTC time>-<seq>.dat.lock`,
 * created with O_EXCL (seq bumped on a clash with a `.dat.lock` or `.dat`), owned through a
 * proper-lockfile lock so a dead writer's file can be told from a live one. Lines are written to the
 * file at once (a kill -9 loses none of them); durability against power loss follows the policy.
 * A failed write is cut back to the last whole line and thrown as RESCUE_WRITE_FAILED.
 */
export class RescueWriter {
  private size = 0;
  private lines = 0;
  /** `size` when the last background sync (durability none) started. */
  private syncedSize = 0;
  private syncing: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;
  private batchWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private batchTimer: TimerHandle | undefined;
  private released = false;

  private constructor(
    private readonly opts: RescueWriterOptions,
    private readonly fh: fsp.FileHandle,
    readonly lockPath: string,
    private readonly releaseLock: () => Promise<void>,
  ) {}

  static async create(opts: RescueWriterOptions): Promise<RescueWriter> {
    const fs = opts.fs ?? realFs;
    const dir = path.join(opts.rescueDir, opts.group);
    // a rescue directory that cannot be made (ENOSPC, ENOTDIR, EACCES) is a failing rescue write:
    // the sink waits and retries, /healthz says so; never an internal error
    await fs.mkdir(dir).catch((err: unknown) => {
      throw new WrError('RESCUE_WRITE_FAILED', `cannot create rescue directory ${dir}: ${errnoCode(err) ?? String(err)}`, err);
    });
    const failed = (what: string, err: unknown): WrError =>
      err instanceof WrError ? err : new WrError('RESCUE_WRITE_FAILED', `cannot create rescue file ${what}: ${errnoCode(err) ?? String(err)}`, err);
    for (let seq = 0; ; seq++) {
      const file = path.join(dir, formatRescueName({ sink: opts.sink, time: opts.clock.now(), seq, locked: true }));
      if (existsSync(file.slice(0, -'.lock'.length)) || existsSync(file)) continue;
      // The owner (lock + pid) is claimed before the file exists, so a `.dat.lock` never lives
      // without the pid of its writer: a kill -9 at any step leaves a file salvage can take at once.
      let releaseLock: () => Promise<void>;
      try {
        releaseLock = await lockfile.lock(file, {
          lockfilePath: ownerLockPath(file),
          realpath: false,
          stale: OWNER_STALE_MS,
          update: OWNER_STALE_MS / 4,
          onCompromised: (err) => (opts.log ?? silentLogger()).error({ file, err: err.message }, 'rescue file ownership lock compromised'),
        });
      } catch (err) {
        // another writer's claim on this name, live or left by a crash (a stale claim holding a pid
        // is not removable by proper-lockfile: ENOTEMPTY); salvage clears the dead ones
        if (errnoCode(err) === 'ELOCKED' || errnoCode(err) === 'ENOTEMPTY') continue;
        throw failed(file, err);
      }
      const giveOwnerBack = async (): Promise<void> => {
        await fsp2.rm(ownerPidPath(file), { force: true }).catch(() => undefined);
        await releaseLock().catch(() => undefined);
      };
      // another writer of this sink (a reloaded sink beside its old instance) may have made, written
      // and released this very name between the look above and the claim: its `.dat` would be
      // overwritten by our release. A writer renames before it lets go of its claim, so a `.dat`
      // made that way is there now.
      if (existsSync(file.slice(0, -'.lock'.length))) {
        await giveOwnerBack();
        continue;
      }
      let fh: fsp.FileHandle;
      try {
        await fsp2.writeFile(ownerPidPath(file), processMark());
        fh = await fs.open(file, 'ax'); // append: after a cut-back write, the next lands at the new end
      } catch (err) {
        await giveOwnerBack();
        if (errnoCode(err) === 'EEXIST') continue;
        throw failed(file, err);
      }
      try {
        await fs.syncDir(dir);
      } catch (err) {
        // the directory removed since the open (`rm -rf data/rescue` beside us): no line is written
        // yet, so give the name back and fail the write; the sink's retry makes the directory again
        await fh.close().catch(() => undefined);
        await fs.unlink(file).catch(() => undefined); // empty; before its owner, so it never lives without one
        await giveOwnerBack();
        throw failed(file, err);
      }
      return new RescueWriter(opts, fh, file, releaseLock);
    }
  }

  get file(): string {
    return this.lockPath;
  }

  get lineCount(): number {
    return this.lines;
  }

  private get fs(): FsPort {
    return this.opts.fs ?? realFs;
  }

  /** Writes the entries now (`buf`: their encoding, if the caller has it); settles when durable per the policy. */
  async append(entries: readonly SinkEntry[], buf = encodeRescueBatch(entries)): Promise<Written> {
    try {
      this.fs.writeSync(this.fh, buf); // synchronous, as in FileSink: cheaper than a thread-pool hop per batch
    } catch (err) {
      await this.fs.truncate(this.fh, this.size).catch(() => undefined);
      throw new WrError('RESCUE_WRITE_FAILED', `rescue write to ${this.lockPath} failed: ${errnoCode(err) ?? String(err)}`, err);
    }
    this.size += buf.length;
    this.lines += entries.length;
    switch (this.opts.durability) {
      case 'none':
        if (this.size - this.syncedSize >= (this.opts.backgroundSyncBytes ?? BACKGROUND_SYNC_BYTES) && !this.syncing) {
          this.syncedSize = this.size;
          // a failure shows again at the release's own sync, which is awaited
          this.groupSync().catch(() => undefined);
        }
        return DURABLE_NOW;
      case 'fsync':
        return { durable: this.groupSync() };
      case 'batch':
        return { durable: this.nextBatchSync() };
    }
  }

  /** One fdatasync shared by every caller waiting at the time; a caller arriving during a sync waits for the next. */
  private groupSync(): Promise<void> {
    if (this.syncing) {
      this.nextSync ??= this.syncing.then(() => {
        this.nextSync = undefined;
        return this.groupSync();
      });
      return this.nextSync;
    }
    this.syncing = this.fs.datasync(this.fh).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /**
   * `batch`: the group commit starts when the window's first write is half a `flush_ms` old. The
   * reader waits for it only once its oldest uncommitted batch is a whole `flush_ms` old (the
   * duplicate bound), so a commit that takes under half a window runs while reading goes on;
   * started at a whole `flush_ms` it stalled reading for its full duration every window.
   */
  private nextBatchSync(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.batchWaiters.push({ resolve, reject }));
    this.batchTimer ??= this.opts.clock.setTimeout(() => {
      this.batchTimer = undefined;
      const waiters = this.batchWaiters.splice(0);
      this.groupSync().then(
        () => waiters.forEach((w) => w.resolve()),
        (err: unknown) => waiters.forEach((w) => w.reject(err)),
      );
    }, this.opts.flushMs / 2);
    return p;
  }

  /**
   * The file was removed while written (`rm -rf data/rescue` beside a running wparse): the lines
   * appended since live only in the open inode, and the source counts them delivered. They are
   * copied to a new file under the same name (through /proc/self/fd: our handle is append-only)
   * before the release renames it, so nothing is lost; the lines from before the removal come with them.
   */
  private async restore(): Promise<void> {
    (this.opts.log ?? silentLogger()).warn({ file: this.lockPath }, 'rescue file removed while written: its lines are written to a new file');
    await this.fs.mkdir(path.dirname(this.lockPath));
    // copied by the kernel (copy_file_range), not through memory: a rescue file may be gigabytes
    await fsp2.copyFile(`/proc/self/fd/${this.fh.fd}`, this.lockPath, fsConstants.COPYFILE_EXCL).catch((err: unknown) => {
      throw new WrError('RESCUE_WRITE_FAILED', `rescue file ${this.lockPath} was removed while written and cannot be copied back: ${errnoCode(err) ?? String(err)}`, err);
    });
    const fh = await this.fs.open(this.lockPath, 'r+');
    try {
      await this.fs.datasync(fh);
    } finally {
      await fh.close();
    }
  }

  /** Flush, fsync, drop the ownership lock, rename `.dat.lock` → `.dat`, fsync the directory. */
  async release(): Promise<string> {
    if (this.released) return this.lockPath.slice(0, -'.lock'.length);
    this.released = true;
    if (this.batchTimer) this.opts.clock.clearTimeout(this.batchTimer);
    const waiters = this.batchWaiters.splice(0);
    await this.syncing?.catch(() => undefined); // its failure, if it lasts, shows in the sync below
    await this.fs.datasync(this.fh);
    waiters.forEach((w) => w.resolve());
    if ((await this.fh.stat()).nlink === 0) await this.restore();
    const dat = this.lockPath.slice(0, -'.lock'.length);
    try {
      await this.fs.rename(this.lockPath, dat).catch(async (err: unknown) => {
        // removed after the check above (an `rm -rf` racing the release): the handle, still open,
        // holds every line; closed first, they were lost
        if (errnoCode(err) !== 'ENOENT') throw err;
        await this.restore();
        await this.fs.rename(this.lockPath, dat);
      });
    } finally {
      await this.fh.close();
    }
    await fsp2.rm(ownerPidPath(this.lockPath), { force: true });
    await this.releaseLock().catch(() => undefined);
    await this.fs.syncDir(path.dirname(dat));
    return dat;
  }
}
