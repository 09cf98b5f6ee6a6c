import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../queue/job-state.js';
import { parseRescueJobId, rescueRank } from '../rescue/file-name.js';
import { classify, ownedFile } from '../rescue/layout.js';

/**
 * What a rescue directory holds, from one walk: released `.dat` files (each a job: id = path
 * relative to rescue.path) and `.dat.lock` files (being written, or left by a dead writer).
 * What is skipped is the layout's business (rescue/layout.ts `classify`): `dead/`, our lock and
 * temp files, owner locks, `recover.lock`. Other odd names (`..x.dat`) are found, and quarantined
 * by the replayer.
 */
export interface Found {
  /** `size` is undefined for files `known` said not to stat. */
  dats: Array<{ id: string; file: string; size?: number }>;
  locks: string[];
  /** `.dat.lock` paths that do not exist but whose owner lock or pid does: a writer between claim and create, or killed there. */
  orphanOwners: string[];
}

/** One walk of the tree; a `.dat` whose id is `known` (already queued) is listed without a stat. */
export function scanRescueDir(root: string, known: (id: string) => boolean = () => false): Found {
  const found: Found = { dats: [], locks: [], orphanOwners: [] };
  if (!existsSync(root)) return found;
  const walk = (dir: string, rel: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a group directory removed while we walked
    }
    for (const e of entries) {
      const name = e.name;
      const full = path.join(dir, name);
      const id = rel ? `${rel}/${name}` : name;
      const kind = classify(id);
      if (e.isDirectory() && kind !== 'owner') {
        if (kind === 'foreign') walk(full, id);
      } else if (kind === 'owner') {
        const file = ownedFile(full);
        if (!existsSync(file) && !found.orphanOwners.includes(file)) found.orphanOwners.push(file);
      } else if (kind === 'job') {
        if (known(id)) found.dats.push({ id, file: full });
        else {
          try {
            found.dats.push({ id, file: full, size: statSync(full).size });
          } catch {
            // replayed and deleted while we walked
          }
        }
      } else if (kind === 'writing') found.locks.push(full);
    }
  };
  walk(root, '');
  return found;
}

/**
 * Whether a `.dat` found by a scan or the watcher should become a job. Not when its job is
 * pending, in flight or dead, nor while a replayed file waits for its deletion (`finishing`). A
 * completed job's id is wanted again only when its file `exists` now: a scan lists a file, awaits
 * (salvage, the WAL), and meanwhile the file may be replayed and deleted; without the look, that
 * stale listing queued it again, to end "already gone". A file there now is a new copy to replay.
 */
export function wantsReplay(job: Job | undefined, finishing: boolean, exists: () => boolean): boolean {
  if (job && (job.state === 'pending' || job.state === 'in_flight' || job.state === 'dead')) return false;
  if (finishing) return false;
  return job?.state !== 'completed' || exists();
}

/**
 * Queue payload of a replay job: the sink it serialises on, its (time, seq) order, and the file's
 * size when enqueued (a released file does not change), so backlog figures need no stat per job.
 */
export function jobPayload(id: string, bytes?: number): { key: string; rank: string; time: number; bytes?: number } {
  const size = bytes === undefined ? {} : { bytes };
  const r = parseRescueJobId(id);
  if (!r) return { key: `?/${id}`, rank: '', time: 0, ...size };
  return { key: `${r.group}/${r.name.sink}`, rank: rescueRank(r.name), time: r.name.time, ...size };
}

/** The file size a replay job was enqueued with, if it was recorded. */
export function jobBytes(job: Job): number | undefined {
  return typeof job.data.bytes === 'number' ? job.data.bytes : undefined;
}

/** The sink a replay job serialises on (`<group>/<sink>`), read back from its payload. */
export function jobSinkKey(job: Job): string {
  return typeof job.data.key === 'string' ? job.data.key : job.id;
}

/** The (time, seq) order rank of a replay job, read back from its payload. */
export function jobRank(job: Job): string {
  return typeof job.data.rank === 'string' ? job.data.rank : '';
}
