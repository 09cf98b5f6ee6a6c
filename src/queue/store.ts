import { copyFileSync, promises as fsp } from 'node:fs';
import { WrError, isWrError } from '../errors.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import { applyEvent, checkTransition, countByState, type EventType, type Job, type JobState } from './job-state.js';
import { loadSnapshot, writeSnapshot } from './snapshot.js';
import { listSegments, scanSegment } from './wal/decoder.js';
import { WalWriter, type WalFsync } from './wal/writer.js';

export interface QueueStoreOptions {
  dir: string;
  fsync: WalFsync;
  fs?: FsPort;
  clock?: Clock;
  log?: Logger;
  segmentBytes?: number;
  onFsync?: (seconds: number) => void;
}

export interface RecoveryInfo {
  snapshot: 'main' | 'backup' | 'none';
  replayedEvents: number;
  tornBytes: number;
  requeued: number;
  ms: number;
}

export interface QueueState {
  jobs: Map<string, Job>;
  lastSeq: number;
  snapshot: 'main' | 'backup' | 'none';
  tail?: { file: string; bytes: number; firstSeq: number };
  replayed: number;
  tornBytes: number;
  /** Events the transition table refused on replay (only after a repair dropped records). */
  skipped: number;
  /** lastSeq of the snapshot the state was built from (0 without one). */
  snapshotSeq: number;
}

/**
 * Builds the state from snapshot + WAL without changing anything on disk. An event that the
 * transition table refuses (possible only once `queue repair` dropped a record before it) is
 * skipped and counted rather than stopping start-up.
 */
export function readQueueState(dir: string): QueueState {
  const { snapshot, source, corrupt } = loadSnapshot(dir);
  const segs = listSegments(dir);
  // Segments are kept back to the backup snapshot, so either snapshot plus the WAL is complete. A
  // gap means events are missing: refuse rather than start from a state that silently lost jobs.
  const firstSeq = segs[0]?.firstSeq;
  if (firstSeq !== undefined && firstSeq > snapshot.lastSeq + 1) {
    const which = source === 'none' ? 'no readable snapshot' : `the ${source} snapshot covers up to seq ${snapshot.lastSeq}`;
    const bad = corrupt.length ? ` (unreadable: ${corrupt.join(', ')})` : '';
    throw new WrError('SNAPSHOT_CORRUPT', `queue state incomplete in ${dir}: ${which}${bad} but the WAL starts at seq ${firstSeq}`);
  }
  const jobs = new Map<string, Job>(snapshot.jobs.map((j) => [j.id, j]));
  let lastSeq = snapshot.lastSeq;
  let replayed = 0;
  let skipped = 0;
  let tornBytes = 0;
  let tail: QueueState['tail'];
  segs.forEach(({ file, firstSeq }, i) => {
    const next = segs[i + 1];
    // wholly covered by the snapshot: kept only for a fall-back to the backup, nothing to read now
    if (next && next.firstSeq - 1 <= snapshot.lastSeq) return;
    const scan = scanSegment(file, firstSeq);
    const firstBad = scan.bad[0];
    if (firstBad) {
      const code = firstBad.reason === 'CRC mismatch' ? 'WAL_CRC_MISMATCH' : 'WAL_CORRUPT';
      throw new WrError(code, `queue WAL ${file} at byte ${firstBad.offset}: ${firstBad.reason}; run \`wprescue queue repair\` (it keeps a backup)`);
    }
    for (const ev of scan.events) {
      if (ev.seq <= lastSeq) continue;
      try {
        applyEvent(jobs, ev);
        replayed++;
      } catch (err) {
        if (!isWrError(err, 'JOB_ILLEGAL_TRANSITION')) throw err;
        skipped++;
      }
      lastSeq = ev.seq;
    }
    tornBytes += scan.tornBytes;
    if (i === segs.length - 1) tail = { file, bytes: scan.validBytes, firstSeq };
  });
  return { jobs, lastSeq, snapshot: source, ...(tail ? { tail } : {}), replayed, tornBytes, skipped, snapshotSeq: snapshot.lastSeq };
}

/**
 * The crash-safe job store: every state change is appended to the WAL (and, with `fsync: always`,
 * synced) before the in-memory map changes. Operations on one job are serialised.
 */
export class QueueStore {
  private readonly jobsById: Map<string, Job>;
  private readonly stateCounts: Record<JobState, number>;
  private readonly listeners: Array<(job: Job) => void> = [];
  private appliedSeq: number;
  private readonly chains = new Map<string, Promise<unknown>>();
  private snapshotting: Promise<void> = Promise.resolve();
  /** lastSeq of the current snapshot file (it becomes the backup when the next one is written). */
  private snapshotSeq: number;
  readonly recovery: RecoveryInfo;

  private constructor(
    private readonly opts: QueueStoreOptions,
    private readonly wal: WalWriter,
    jobs: Map<string, Job>,
    appliedSeq: number,
    recovery: RecoveryInfo,
    snapshotSeq: number,
  ) {
    this.snapshotSeq = snapshotSeq;
    this.jobsById = jobs;
    this.stateCounts = countByState(jobs.values());
    this.appliedSeq = appliedSeq;
    this.recovery = recovery;
  }

  static async open(opts: QueueStoreOptions): Promise<QueueStore> {
    const t0 = performance.now();
    const fs = opts.fs ?? realFs;
    const log = opts.log ?? silentLogger();
    await fs.mkdir(opts.dir);
    const state = readQueueState(opts.dir);
    if (state.tornBytes > 0 && state.tail) {
      copyFileSync(state.tail.file, `${state.tail.file}.broken`);
      await fsp.truncate(state.tail.file, state.tail.bytes);
      log.warn({ file: state.tail.file, tornBytes: state.tornBytes }, 'queue WAL: torn last record cut (original kept as .broken)');
    }
    const wal = await WalWriter.open({
      dir: opts.dir,
      fsync: opts.fsync,
      // never below the last segment's name: seqs only grow, even if its events were lost
      nextSeq: Math.max(state.lastSeq + 1, state.tail?.firstSeq ?? 0),
      ...(state.tail ? { resume: state.tail } : {}),
      ...(opts.segmentBytes ? { segmentBytes: opts.segmentBytes } : {}),
      fs,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onFsync ? { onFsync: opts.onFsync } : {}),
    });
    const recovery: RecoveryInfo = { snapshot: state.snapshot, replayedEvents: state.replayed, tornBytes: state.tornBytes, requeued: 0, ms: 0 };
    const store = new QueueStore(opts, wal, state.jobs, state.lastSeq, recovery, state.snapshotSeq);
    for (const job of [...state.jobs.values()].filter((j) => j.state === 'in_flight')) {
      await store.transition('TIMEOUT', job.id, { reason: 'restart' });
      recovery.requeued++;
    }
    recovery.ms = performance.now() - t0;
    return store;
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock;
  }

  get lastSeq(): number {
    return this.appliedSeq;
  }

  get(id: string): Job | undefined {
    return this.jobsById.get(id);
  }

  jobs(): Job[] {
    return [...this.jobsById.values()];
  }

  /** Jobs per state, kept up to date on every transition (no walk over the jobs). */
  counts(): Record<JobState, number> {
    return { ...this.stateCounts };
  }

  /** Calls `fn` with the job after every transition is applied (the job in its new state). */
  subscribe(fn: (job: Job) => void): void {
    this.listeners.push(fn);
  }

  /** Adds a job; returns false (and logs nothing) when it is already pending or in flight. */
  async enqueue(id: string, payload: Record<string, unknown>): Promise<boolean> {
    return this.serial(id, async () => {
      const job = this.jobsById.get(id);
      if (job && (job.state === 'pending' || job.state === 'in_flight')) return false;
      await this.write('ENQUEUE', id, { payload });
      return true;
    });
  }

  transition(type: Exclude<EventType, 'ENQUEUE'>, id: string, data: Record<string, unknown> = {}): Promise<void> {
    return this.serial(id, () => this.write(type, id, data));
  }

  /** Writes a snapshot of the applied state, rotates the WAL and deletes segments it covers. One at a time. */
  snapshot(): Promise<void> {
    const next = this.snapshotting.then(() => this.snapshotNow());
    this.snapshotting = next.catch(() => undefined);
    return next;
  }

  /**
   * The current snapshot becomes the backup and a new one is written; then the segments wholly
   * covered by the backup (not the new snapshot) are deleted, so that falling back to the backup
   * still finds every event after it.
   */
  private async snapshotNow(): Promise<void> {
    await this.wal.rotate();
    const lastSeq = this.appliedSeq;
    const backupSeq = this.snapshotSeq;
    await writeSnapshot(this.opts.dir, { lastSeq, jobs: this.jobs() }, { ...(this.opts.fs ? { fs: this.opts.fs } : {}), durable: this.opts.fsync !== 'none' });
    this.snapshotSeq = lastSeq;
    const segs = listSegments(this.opts.dir);
    for (let i = 0; i + 1 < segs.length; i++) {
      if (segs[i + 1]!.firstSeq - 1 <= backupSeq) await (this.opts.fs ?? realFs).unlink(segs[i]!.file);
    }
  }

  async close(opts: { snapshot?: boolean } = {}): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
    if (opts.snapshot ?? true) await this.snapshot();
    await this.wal.close();
  }

  private async write(type: EventType, id: string, data: Record<string, unknown>): Promise<void> {
    checkTransition(type, this.jobsById.get(id), id);
    const [ev] = await this.wal.append([{ type, job: id, ts: this.clock.now(), data }]);
    if (!ev) throw new WrError('INTERNAL', `queue WAL append of ${type} ${id} returned no event`);
    const before = this.jobsById.get(id)?.state;
    applyEvent(this.jobsById, ev);
    this.appliedSeq = Math.max(this.appliedSeq, ev.seq);
    const job = this.jobsById.get(id)!;
    if (before) this.stateCounts[before]--;
    this.stateCounts[job.state]++;
    for (const l of this.listeners) l(job);
  }

  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return next;
  }
}
