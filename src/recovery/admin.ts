import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WrError } from '../errors.js';
import { moveIfPresent } from '../platform/atomic-write.js';
import type { WorkRoot } from '../config/work-root.js';
import { systemClock } from '../platform/clock.js';
import { openDamage } from '../queue/damage-log.js';
import { countByState, type Job } from '../queue/job-state.js';
import { QueueStore, readQueueState } from '../queue/store.js';
import { repairWal, type RepairReport } from '../queue/wal/repair.js';
import { parseRescueJobId } from '../rescue/file-name.js';
import { lockRescueDir } from './dir-lock.js';
import { jobPayload } from './discovery.js';
import { classify, rescueLayout } from '../rescue/layout.js';

/** Queue administration for `wprescue status | enqueue | requeue --dead | queue repair`. */
const dirs = (wr: WorkRoot): { rescueDir: string; queueDir: string } => ({
  rescueDir: path.resolve(wr.root, wr.engine.rescue.path),
  queueDir: path.resolve(wr.root, wr.engine.queue.dir),
});

export interface QueueStatus {
  queueDir: string;
  /** completed: the most recent queue.completed_history only. */
  counts: ReturnType<typeof countByState>;
  jobs: Record<Job['state'], Array<{ id: string; attempt: number; lastError?: string }>>;
  /**
   * Damaged WAL records: `set_aside` by a start (the copy `keptAs` holds the original bytes; listed
   * until that copy is deleted), or `found` in the live WAL and not yet set aside (the next start does).
   */
  damage: Array<{ segment: string; offset: number; reason: string; state: 'set_aside' | 'found'; keptAs?: string; at?: number }>;
}

/** Reads snapshot + WAL without the lock and without changing anything, so it works beside a daemon. */
export function queueStatus(wr: WorkRoot): QueueStatus {
  const { queueDir } = dirs(wr);
  const damage: QueueStatus['damage'] = [];
  if (!existsSync(queueDir)) return { queueDir, counts: countByState([]), jobs: { pending: [], in_flight: [], completed: [], dead: [] }, damage };
  const state = readQueueState(queueDir, { completedHistory: wr.engine.queue.completed_history });
  const jobs: QueueStatus['jobs'] = { pending: [], in_flight: [], completed: [], dead: [] };
  for (const j of [...state.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    jobs[j.state].push({ id: j.id, attempt: j.attempt, ...(j.lastError ? { lastError: j.lastError } : {}) });
  }
  for (const e of openDamage(queueDir)) {
    for (const r of e.records) damage.push({ segment: path.join(queueDir, e.segment), ...r, state: 'set_aside', keptAs: path.join(queueDir, e.keptAs), at: e.at });
  }
  for (const d of state.damage) for (const r of d.records) damage.push({ segment: d.file, ...r, state: 'found' });
  return { queueDir, counts: countByState(state.jobs.values()), jobs, damage };
}

/** One human line per damaged WAL record, for `wprescue status`. */
export function damageLines(st: QueueStatus): string[] {
  return st.damage.map((d) =>
    d.state === 'set_aside'
      ? `damaged WAL record: ${d.segment} at byte ${d.offset}: ${d.reason}; set aside as ${d.keptAs} (state rebuilt; delete that copy to clear this line)`
      : `damaged WAL record: ${d.segment} at byte ${d.offset}: ${d.reason}; the next start sets it aside and rebuilds the state`,
  );
}

async function withStore<T>(wr: WorkRoot, fn: (store: QueueStore, rescueDir: string) => Promise<T>): Promise<T> {
  const { rescueDir, queueDir } = dirs(wr);
  const release = await lockRescueDir(rescueDir, () => undefined);
  try {
    const store = await QueueStore.open({ dir: queueDir, fsync: wr.engine.queue.fsync, completedHistory: wr.engine.queue.completed_history, clock: systemClock });
    try {
      return await fn(store, rescueDir);
    } finally {
      await store.close();
    }
  } finally {
    await release();
  }
}

export async function enqueueFiles(wr: WorkRoot, files: string[]): Promise<Array<{ file: string; id: string; added: boolean }>> {
  return withStore(wr, async (store, rescueDir) => {
    const out = [];
    for (const f of files) {
      const abs = path.resolve(f);
      const id = path.relative(rescueDir, abs).split(path.sep).join('/');
      if (id.startsWith('..') || path.isAbsolute(id)) throw new WrError('USAGE', `${f} is not inside the rescue directory ${rescueDir}`);
      if (!existsSync(abs)) throw new WrError('USAGE', `${f} does not exist`);
      // its job id would name a group dead/<group> that no config has: it would die again, one level deeper
      if (classify(id.split('/')[0]!) === 'dead-dir') throw new WrError('USAGE', `${f} is quarantined in dead/; \`wprescue requeue --dead\` gives dead jobs another run`);
      if (!parseRescueJobId(id)) throw new WrError('RESCUE_NAME_INVALID', `${f}: not a released rescue file <group>/<sink>-YYYY-MM-DD_HH:MM:SS-<seq>.dat`);
      out.push({ file: abs, id, added: await store.enqueue(id, jobPayload(id)) });
    }
    return out;
  });
}

/** Moves every dead job's quarantined file back and enqueues it again (resuming at its checkpoint). */
export async function requeueDead(wr: WorkRoot): Promise<string[]> {
  return withStore(wr, async (store, rescueDir) => {
    const ids = store.jobs().filter((j) => j.state === 'dead').map((j) => j.id);
    for (const id of ids) {
      const quarantined = rescueLayout(rescueDir).deadFile(id);
      const home = path.join(rescueDir, id);
      // one an operator removed is no error: its job runs and ends "already gone"
      await moveIfPresent(quarantined, home);
      await fsp.rm(rescueLayout(rescueDir).reasonFile(id), { force: true });
      await store.enqueue(id, jobPayload(id));
    }
    return ids;
  });
}

export async function repairQueue(wr: WorkRoot): Promise<RepairReport> {
  const { rescueDir, queueDir } = dirs(wr);
  const release = await lockRescueDir(rescueDir, () => undefined);
  try {
    return repairWal(queueDir);
  } finally {
    await release();
  }
}
