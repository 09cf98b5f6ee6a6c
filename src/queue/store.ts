import { copyFileSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WrError, isWrError } from '../errors.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import { CompletedHistory, DEFAULT_COMPLETED_HISTORY } from './completed-history.js';
import { recordDamage, type DamagedRecord } from './damage-log.js';
import { applyEvent, checkTransition, countByState, type EventType, type Job, type JobState, type QueueEvent } from './job-state.js';
import { loadSnapshot, writeSnapshot } from './snapshot.js';
import { listSegments, scanSegment, setAsideSeqBound } from './wal/decoder.js';
import { WalWriter, type WalFsync } from './wal/writer.js';

export interface QueueStoreOptions {
  dir: string;
  fsync: WalFsync;
  fs?: FsPort;
  clock?: Clock;
  log?: Logger;
  segmentBytes?: number;
  /** How many completed jobs to keep (`queue.completed_history`); older ones are dropped. */
  completedHistory?: number;
  onFsync?: (seconds: number) => void;
}

export interface RecoveryInfo {
  snapshot: 'main' | 'backup' | 'none';
  replayedEvents: number;
  tornBytes: number;
  /** Events the transition table refused (they followed a damaged record). */
  skippedEvents: number;
  /** Damaged records set aside at this start: the segment (absolute), its kept copy, where and why. */
  damage: Array<{ file: string; keptAs: string; offset: number; reason: string }>;
  requeued: number;
  ms: number;
}

export interface SegmentDamage {
  file: string;
  records: DamagedRecord[];
}

export interface QueueState {
  jobs: Map<string, Job>;
  lastSeq: number;
  snapshot: 'main' | 'backup' | 'none';
  tail?: { file: string; bytes: number; firstSeq: number };
  replayed: number;
  tornBytes: number;
  /** Events the transition table refused on replay (only after a damaged record was skipped). */
  skipped: number;
  /** lastSeq of the snapshot the state was built from (0 without one). */
  snapshotSeq: number;
  /** Complete lines that failed their CRC or did not parse, per segment, in seq order. */
  damage: SegmentDamage[];
  /** A seq above every complete line read, readable or not (a damaged record's seq is unknown). */
  seqBound: number;
  /** Completion order of the completed jobs kept (the older ones are already dropped). */
  history: CompletedHistory;
}

export interface ReadStateOptions {
  completedHistory?: number;
}

/**
 * Builds the state from snapshot + WAL without changing anything on disk. A complete line that
 * fails its CRC or does not parse is skipped and listed in `damage` (the caller sets it aside); an
 * event that the transition table then refuses is skipped and counted. Neither stops start-up
 * (SPEC promise 3): what a damaged record said, the rescue directory says again (see service.ts).
 * Completed jobs beyond `completedHistory` are dropped as they are replayed.
 */
export function readQueueState(dir: string, opts: ReadStateOptions = {}): QueueState {
  const { snapshot, source, corrupt } = loadSnapshot(dir);
  const segs = listSegments(dir);
  // Segments are kept back to the backup snapshot, so either snapshot plus the WAL is complete. A
  // gap means events are missing: refuse rather than start from a state that silently lost jobs.
  const firstSeq = segs[0]?.firstSeq;
  if (firstSeq !== undefined && firstSeq > snapshot.lastSeq + 1) {
    const which = source === 'none' ? 'no readable snapshot' : `the ${source} snapshot covers up to seq ${snapshot.lastSeq}`;
    const bad = corrupt.length ? ` (unreadable: ${corrupt.join(', ')})` : '';
    throw new WrError('SNAPSHOT_CORRUPT', `queue state incomplete in ${dir}: ${which}${bad} but the WAL starts at seq ${firstSeq}; \`wprescue queue repair\` sets it aside and the next start rebuilds the queue from the rescue directory`);
  }
  const jobs = new Map<string, Job>(snapshot.jobs.map((j) => [j.id, j]));
  const { history } = CompletedHistory.of(jobs, opts.completedHistory ?? DEFAULT_COMPLETED_HISTORY);
  let lastSeq = snapshot.lastSeq;
  let seqBound = lastSeq + 1;
  let replayed = 0;
  let skipped = 0;
  let tornBytes = 0;
  let tail: QueueState['tail'];
  const damage: SegmentDamage[] = [];
  segs.forEach(({ file, firstSeq }, i) => {
    const next = segs[i + 1];
    // wholly covered by the snapshot: kept only for a fall-back to the backup, nothing to read now
    if (next && next.firstSeq - 1 <= snapshot.lastSeq) return;
    const scan = scanSegment(file, firstSeq);
    if (scan.bad.length > 0) damage.push({ file, records: scan.bad });
    let maxSeq = firstSeq - 1;
    for (const ev of scan.events) {
      maxSeq = Math.max(maxSeq, ev.seq);
      if (ev.seq <= lastSeq) continue;
      try {
        applyEvent(jobs, ev);
        history.noteApplied(jobs, ev.job);
        replayed++;
      } catch (err) {
        if (!isWrError(err, 'JOB_ILLEGAL_TRANSITION')) throw err;
        skipped++;
      }
      lastSeq = ev.seq;
    }
    // seqs within a segment run on from its name, so a damaged line's seq is below this
    seqBound = Math.max(seqBound, firstSeq + scan.events.length + scan.bad.length, maxSeq + 1 + scan.bad.length);
    tornBytes += scan.tornBytes;
    if (i === segs.length - 1) tail = { file, bytes: scan.validBytes, firstSeq };
  });
  return { jobs, lastSeq, snapshot: source, ...(tail ? { tail } : {}), replayed, tornBytes, skipped, snapshotSeq: snapshot.lastSeq, damage, seqBound, history };
}

/**
 * The crash-safe job store: every state change is appended to the WAL (and, with `fsync: always`,
 * synced) before the in-memory map changes. Operations on one job are serialised.
 *
 * Invariants: only the last `completedHistory` completed jobs are held (completed-history.ts);
 * pending, in-flight and dead jobs always are. Opening over damaged WAL records never fails: each
 * damaged segment is copied aside and recorded (damage-log.ts), the WAL goes on in a new segment
 * whose first seq is above every damaged line, and the rebuilt state is written as both snapshots
 * before every older segment is deleted, so the next start reads neither the damage nor a gap.
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

  private readonly history: CompletedHistory;

  private constructor(
    private readonly opts: QueueStoreOptions,
    private readonly wal: WalWriter,
    state: QueueState,
    appliedSeq: number,
    recovery: RecoveryInfo,
  ) {
    this.snapshotSeq = state.snapshotSeq;
    this.jobsById = state.jobs;
    this.history = state.history;
    this.stateCounts = countByState(state.jobs.values());
    this.appliedSeq = appliedSeq;
    this.recovery = recovery;
  }

  static async open(opts: QueueStoreOptions): Promise<QueueStore> {
    const t0 = performance.now();
    const fs = opts.fs ?? realFs;
    const log = opts.log ?? silentLogger();
    await fs.mkdir(opts.dir);
    const state = readQueueState(opts.dir, opts.completedHistory === undefined ? {} : { completedHistory: opts.completedHistory });
    if (state.tornBytes > 0 && state.tail) {
      copyFileSync(state.tail.file, `${state.tail.file}.broken`);
      await fsp.truncate(state.tail.file, state.tail.bytes);
      log.warn({ file: state.tail.file, tornBytes: state.tornBytes }, 'queue WAL: torn last record cut (original kept as .broken)');
    }
    const damaged = state.damage.length > 0;
    // never below the last segment's name: seqs only grow, even if its events were lost; after
    // damage, past every damaged line too, and in a new segment (the damaged one is set aside);
    // with no state at all (none yet, or set aside whole by `queue repair`), past what was set aside
    const fresh = state.lastSeq === 0 && !state.tail;
    const nextSeq = Math.max(state.lastSeq + 1, state.tail?.firstSeq ?? 0, damaged ? state.seqBound : 0, fresh ? setAsideSeqBound(opts.dir) : 0);
    const wal = await WalWriter.open({
      dir: opts.dir,
      fsync: opts.fsync,
      nextSeq,
      ...(state.tail && !damaged ? { resume: state.tail } : {}),
      ...(opts.segmentBytes ? { segmentBytes: opts.segmentBytes } : {}),
      fs,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onFsync ? { onFsync: opts.onFsync } : {}),
    });
    const recovery: RecoveryInfo = {
      snapshot: state.snapshot,
      replayedEvents: state.replayed,
      tornBytes: state.tornBytes,
      skippedEvents: state.skipped,
      damage: [],
      requeued: 0,
      ms: 0,
    };
    // the seqs of the damaged lines count as applied: the snapshot written below covers them
    const store = new QueueStore(opts, wal, state, damaged ? nextSeq - 1 : state.lastSeq, recovery);
    if (damaged) {
      const entries = await recordDamage(opts.dir, state.damage, {
        at: store.clock.now(),
        skippedEvents: state.skipped,
        fs,
        durable: opts.fsync !== 'none',
      });
      entries.forEach((e, i) => {
        const file = state.damage[i]!.file;
        for (const r of e.records) {
          const d = { file, keptAs: path.join(opts.dir, e.keptAs), offset: r.offset, reason: r.reason };
          recovery.damage.push(d);
          log.error({ ...d, skippedEvents: state.skipped }, 'queue WAL: damaged record skipped, segment kept aside; state rebuilt from the snapshot, the good records and the rescue directory');
        }
      });
    }
    for (const job of [...state.jobs.values()].filter((j) => j.state === 'in_flight')) {
      await store.transition('TIMEOUT', job.id, { reason: 'restart' });
      recovery.requeued++;
    }
    if (damaged) await store.snapshotReplacingWal();
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

  /**
   * Adds many jobs with one WAL append (a scan that finds thousands of files: one promise chain per
   * job cost about 25 us each); returns the ids added. Jobs already pending or in flight are
   * skipped, as by `enqueue`. An id with an operation under way goes through `enqueue`, after it.
   */
  async enqueueMany(items: Array<{ id: string; payload: Record<string, unknown> }>): Promise<string[]> {
    const busy = items.filter((it) => this.chains.has(it.id));
    const seen = new Set<string>();
    const free = items.filter((it) => {
      if (this.chains.has(it.id) || seen.has(it.id)) return false;
      seen.add(it.id);
      const state = this.jobsById.get(it.id)?.state;
      return state !== 'pending' && state !== 'in_flight';
    });
    const later = Promise.all(busy.map((it) => this.enqueue(it.id, it.payload).then((added) => (added ? it.id : undefined))));
    if (free.length === 0) return (await later).filter((id): id is string => id !== undefined);
    const ts = this.clock.now();
    for (const it of free) checkTransition('ENQUEUE', this.jobsById.get(it.id), it.id);
    const written = this.wal.append(free.map((it) => ({ type: 'ENQUEUE' as const, job: it.id, ts, data: { payload: it.payload } })));
    // the ids are taken until the events are applied, so a later operation on one waits for it
    const tail = written.then(() => undefined, () => undefined);
    for (const it of free) this.chains.set(it.id, tail);
    void tail.then(() => {
      for (const it of free) if (this.chains.get(it.id) === tail) this.chains.delete(it.id);
    });
    const events = await written;
    for (const ev of events) this.apply(ev);
    return [...events.map((ev) => ev.job), ...(await later).filter((id): id is string => id !== undefined)];
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

  /**
   * After damage: the rebuilt state becomes both snapshots (the backup must cover the same seqs)
   * and every earlier segment goes, the damaged ones included (their copies are kept aside), so
   * the next start neither needs nor reports them again.
   */
  private async snapshotReplacingWal(): Promise<void> {
    await this.wal.rotate();
    const snap = { lastSeq: this.appliedSeq, jobs: this.jobs() };
    const o = { ...(this.opts.fs ? { fs: this.opts.fs } : {}), durable: this.opts.fsync !== 'none' };
    await writeSnapshot(this.opts.dir, snap, o);
    await writeSnapshot(this.opts.dir, snap, o);
    this.snapshotSeq = snap.lastSeq;
    for (const { file } of listSegments(this.opts.dir)) {
      if (file !== this.wal.currentSegment) await (this.opts.fs ?? realFs).unlink(file);
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
    this.apply(ev);
  }

  /** Applies an event that is in the WAL to memory, counts and listeners. */
  private apply(ev: QueueEvent): void {
    const id = ev.job;
    const before = this.jobsById.get(id)?.state;
    applyEvent(this.jobsById, ev);
    this.appliedSeq = Math.max(this.appliedSeq, ev.seq);
    const job = this.jobsById.get(id)!;
    if (before) this.stateCounts[before]--;
    this.stateCounts[job.state]++;
    for (const l of this.listeners) l(job);
    this.stateCounts.completed -= this.history.noteApplied(this.jobsById, id);
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
