import { fstatSync, promises as fsp, statSync } from 'node:fs';
import type { FSWatcher } from 'chokidar';
import { errnoCode, errorMessage } from '../errors.js';
import { sleep, type Clock } from '../platform/clock.js';
import { closeWatcher } from '../platform/close-watcher.js';
import { say, type Logger } from '../platform/logger.js';
import { BatchChannel } from './batch-channel.js';
import { FileGlob } from './file-discovery.js';
import { FileTail, type TailDeps } from './file-tail.js';
import { fingerprint, readBefore, readHead, tailHash, type Head } from './fingerprint.js';
import type { Source, SourceBatch } from './source.js';
import { SourceCheckpoint, TAIL_BYTES, type FileCheckpoint } from './source-checkpoint.js';

export interface FileSourceOptions {
  key: string;
  /** Absolute path or glob of the input files. */
  path: string;
  /** Globs of files to leave out (a name glob without `/`, or an absolute path glob). */
  exclude?: readonly string[];
  /** Where to begin a file that has no checkpoint yet and exists when the source starts. */
  from: 'start' | 'end' | 'checkpoint';
  batchSize: number;
  follow: boolean;
  rotateWaitMs?: number;
  /** Safety-net rescan period (daemon); the watcher finds most files sooner. */
  rescanMs?: number;
  pollMs?: number;
  /** Absolute path of this source's checkpoint file. */
  checkpointFile: string;
  clock: Clock;
  log: Logger;
}

const BATCH_OPEN_FILES = 16;

interface Stat {
  dev: number;
  ino: number;
  size: number;
  mtime: bigint;
}

/**
 * Where a file begins, given its checkpoint entries (SPEC section 2); `why` is logged when set.
 * `tailAt(offset)` hashes the file's bytes just before `offset` (see the checkpoint's `tail`).
 */
export function resumePoint(
  entries: readonly FileCheckpoint[],
  head: Head,
  st: Stat,
  from: FileSourceOptions['from'],
  atStart: boolean,
  tailAt: (offset: number) => string = () => '',
): { entry: FileCheckpoint; why?: string } {
  const fresh = (gen: number, offset: number): FileCheckpoint => ({
    fp: fingerprint(head.hash, st.dev, st.ino, gen), head: head.hash, tail: '', dev: st.dev, ino: st.ino, gen, offset, msize: 0, mtime: 0n,
  });
  const known = entries.findLast((e) => !e.legacy && e.dev === st.dev && e.ino === st.ino);
  if (known && known.head === head.hash) {
    if (st.size < known.offset) return { entry: fresh(known.gen + 1, 0), why: 'truncated since the checkpoint' };
    if (known.offset > 0 && st.size === known.offset && known.msize === known.offset && st.mtime !== known.mtime) {
      return { entry: fresh(known.gen + 1, 0), why: 'rewritten in place since the checkpoint' };
    }
    if (known.offset > 0 && known.tail && tailAt(known.offset) !== known.tail) {
      return { entry: fresh(known.gen + 1, 0), why: 'rewritten in place since the checkpoint (its bytes before the checkpoint changed)' };
    }
    return { entry: known };
  }
  if (known) return { entry: fresh(known.gen + 1, 0), why: 'rewritten with new content since the checkpoint' };
  const legacy = entries.find((e) => e.legacy && e.ino === st.ino && e.offset <= st.size);
  if (legacy) return { entry: fresh(0, legacy.offset) };
  return { entry: fresh(0, from === 'end' && atStart ? st.size : 0) };
}

/**
 * `type: file`: reads every file matching `path` (a glob), each through its own FileTail, and
 * hands their batches to the pipeline through one channel. In follow mode (daemon) a watcher and
 * a periodic rescan find files that appear later and notice a file renamed or deleted away (then
 * read to its end for rotate_wait_ms); a glob matching nothing is waited for, with one log line.
 * In batch mode the files present at start are read to their end; none matching is a warning.
 * Files are known by fingerprint, each has its own checkpoint entry (source-checkpoint.ts).
 */
export class FileSource implements Source {
  private readonly ckpt: SourceCheckpoint;
  private readonly glob: FileGlob;
  private readonly tails = new Map<string, FileTail>();
  private readonly touched = new Set<FileCheckpoint>();
  private entries: FileCheckpoint[] = [];
  private wakeUp: { p: Promise<void>; r: () => void } | undefined;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;
  private waitingLogged = false;
  /** Files (device:inode) seen without a whole first line yet: their identity is still unknown. */
  private readonly pendingHeads = new Set<string>();
  /** Paths that matched but could not be opened (no read permission...): logged once each. */
  private readonly unopenable = new Set<string>();

  constructor(private readonly o: FileSourceOptions) {
    this.ckpt = new SourceCheckpoint(o.checkpointFile);
    this.glob = new FileGlob(o.path, o.exclude ?? []);
  }

  get key(): string {
    return this.o.key;
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const { o } = this;
    o.log.info({ source: o.key, path: o.path, from: o.from, follow: o.follow }, 'source started');
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) ac.abort();
    const channel = new BatchChannel();
    ac.signal.addEventListener('abort', () => {
      channel.close();
      this.wake();
    });
    const deps: TailDeps = {
      key: o.key, follow: o.follow, batchSize: o.batchSize, rotateWaitMs: o.rotateWaitMs ?? 5000, clock: o.clock, log: o.log,
      signal: ac.signal, ckpt: this.ckpt, wake: () => this.nextWake(), push: (b) => channel.push(b),
      ...(o.pollMs ? { pollMs: o.pollMs } : {}),
    };
    this.entries = await this.ckpt.read();
    this.ckpt.compact(this.entries);
    let watcher: FSWatcher | undefined;
    const runner = (async () => {
      await this.scan(deps, true);
      if (!o.follow) {
        await Promise.all([...this.tails.values()].map((t) => t.done));
        channel.close();
        return;
      }
      watcher = this.glob.watch(
        () => this.requestScan(deps),
        () => (this.hasPendingHeads ? this.requestScan(deps) : this.wake()),
      );
      while (!ac.signal.aborted) {
        await sleep(o.clock, o.rescanMs ?? 1000, ac.signal);
        this.requestScan(deps);
      }
    })();
    try {
      for (;;) {
        const b = await channel.pull();
        if (!b) break;
        yield b;
      }
      await runner;
    } finally {
      signal.removeEventListener('abort', onAbort);
      ac.abort();
      await runner.catch(() => undefined);
      if (watcher) await closeWatcher(watcher);
      await this.scanning;
      await Promise.all([...this.tails.values()].map((t) => t.done));
    }
  }

  private get hasPendingHeads(): boolean {
    return this.pendingHeads.size > 0;
  }

  private nextWake(): Promise<void> {
    this.wakeUp ??= (() => {
      let r!: () => void;
      const p = new Promise<void>((resolve) => (r = resolve));
      return { p, r };
    })();
    return this.wakeUp.p;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.r();
  }

  /** One scan at a time; a request during a scan runs one more after it. */
  private requestScan(deps: TailDeps): void {
    this.wake();
    if (this.scanning) {
      this.rescanAgain = true;
      return;
    }
    this.scanning = this.scan(deps, false)
      .catch((err: unknown) => this.o.log.error({ source: this.o.key, err: err instanceof Error ? err.message : String(err) }, 'input scan failed'))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescanAgain && !deps.signal.aborted) {
          this.rescanAgain = false;
          this.requestScan(deps);
        }
      });
  }

  private async scan(deps: TailDeps, atStart: boolean): Promise<void> {
    const { o } = this;
    const paths = this.glob.scan();
    const seen = new Set<string>();
    for (const p of paths) {
      if (deps.signal.aborted) return;
      const id = await this.track(p, deps, atStart, false);
      if (id) seen.add(id);
    }
    for (const [id, t] of this.tails) if (!seen.has(id)) t.retire();
    if (atStart) await this.findRotated(deps, seen);
    if (this.tails.size === 0 && paths.length === 0 && !this.waitingLogged) {
      this.waitingLogged = true;
      if (o.follow) o.log.info({ source: o.key, path: o.path }, 'no input file matches yet: waiting for one');
      else {
        o.log.warn({ source: o.key, path: o.path }, 'no input file matches: nothing to read');
        // SPEC section 2: skipped "with a warning"; in the log alone, `wparse batch` before any input just said "0 lines"
        say(`wparse: warning: source ${o.key}: no input file matches ${o.path}: nothing to read`);
      }
    }
  }

  /**
   * After a restart: a file that was rotated away (renamed out of the glob) with lines not yet
   * committed is still in the glob's directories; read it to its end like any rotated file.
   */
  private async findRotated(deps: TailDeps, seen: Set<string>): Promise<void> {
    const open = this.entries.filter((e) => !e.legacy && !seen.has(`${e.dev}:${e.ino}`));
    if (open.length === 0) return;
    const want = new Set(open.map((e) => `${e.dev}:${e.ino}`));
    for (const p of this.glob.allFiles()) {
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      const id = `${st.dev}:${st.ino}`;
      if (!want.has(id) || this.tails.has(id)) continue;
      const e = open.findLast((x) => `${x.dev}:${x.ino}` === id)!;
      if (st.size <= e.offset) continue;
      await this.track(p, deps, false, true);
    }
  }

  /** Starts a tail for the file at `p` unless it has one; returns its device:inode id. */
  private async track(p: string, deps: TailDeps, atStart: boolean, rotated: boolean): Promise<string | undefined> {
    const { o } = this;
    // batch mode reads a big glob a few files at a time (descriptors are finite); a daemon follows all
    while (!o.follow && this.tails.size >= BATCH_OPEN_FILES) await Promise.race([...this.tails.values()].map((t) => t.done));
    // a file already followed is known by a stat: no open and close of every file at every rescan
    const known = this.followed(p);
    if (known) return known;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, 'r');
    } catch (err) {
      // gone since the scan: nothing to say; else (EACCES, EMFILE) the operator must hear of it,
      // once: skipped in silence, a batch run exited 0 without the file's lines
      if (errnoCode(err) !== 'ENOENT' && !this.unopenable.has(p)) {
        this.unopenable.add(p);
        const then = o.follow ? 'tried again at every rescan' : 'not read';
        o.log.warn({ source: o.key, file: p, err: errorMessage(err) }, `input file cannot be opened: ${then}`);
      }
      return undefined;
    }
    this.unopenable.delete(p);
    let keepOpen = false;
    try {
      const bs = fstatSync(fh.fd, { bigint: true });
      const st: Stat = { dev: Number(bs.dev), ino: Number(bs.ino), size: Number(bs.size), mtime: bs.mtimeNs };
      const id = `${st.dev}:${st.ino}`;
      const existing = this.tails.get(id);
      if (existing) {
        existing.keep(p);
        return id;
      }
      const head = readHead(fh.fd, !o.follow);
      if (!head) {
        this.pendingHeads.add(id); // no whole first line yet: identity unknown, read it later
        return id;
      }
      this.pendingHeads.delete(id);
      const { entry, why } = resumePoint(this.entries, head, st, o.from, atStart, (offset) => tailHash(readBefore(fh.fd, offset, TAIL_BYTES)));
      if (why) o.log.warn({ source: o.key, file: p, fp: entry.fp }, `input file ${why}: reading it from the start`);
      o.log.info({ source: o.key, file: p, fp: entry.fp, from: entry.offset }, rotated ? 'rotated input file found: reading it to its end' : 'input file opened');
      // the slot is written at once: a restart before the first commit must know the file
      // (else `from: end` would skip what it holds)
      const tail = new FileTail(p, fh, entry, head, deps, (e) => {
        this.touched.add(e);
        if (!this.entries.includes(e)) this.entries.push(e); // a new generation is the newest entry for its inode
        this.ckpt.write(e);
      });
      keepOpen = true;
      this.tails.set(id, tail);
      if (rotated) tail.retire();
      void tail.done.then(() => {
        if (this.tails.get(id) === tail) this.tails.delete(id);
      });
      return id;
    } finally {
      if (!keepOpen) await fh.close();
    }
  }

  /** The device:inode id of the file at `p` if a tail reads it (then kept at that path). */
  private followed(p: string): string | undefined {
    let st;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    const id = `${st.dev}:${st.ino}`;
    const tail = this.tails.get(id);
    if (!tail) return undefined;
    tail.keep(p);
    return id;
  }

  /** Writes every entry once more: size and mtime seen at the end of a file come after its last commit. */
  async close(): Promise<void> {
    for (const e of this.touched) this.ckpt.write(e);
    this.ckpt.close();
  }
}
