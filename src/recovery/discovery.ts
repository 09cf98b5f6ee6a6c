import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Job } from '../queue/job-state.js';
import { parseRescueJobId, rescueRank } from '../rescue/file-name.js';

/**
 * What a rescue directory holds, from one walk: released `.dat` files (each a job: id = path
 * relative to rescue.path) and `.dat.lock` files (being written, or left by a dead writer).
 * Skipped: `dead/`, our own `.wprescue.*` lock files, `*.owner` lock dirs, `recover.lock`, temp
 * files. Other odd names (`..x.dat`) are found, and quarantined by the replayer.
 */
export interface Found {
  dats: Array<{ id: string; file: string; size: number; mtimeMs: number }>;
  locks: string[];
}

export function scanRescueDir(root: string): Found {
  const found: Found = { dats: [], locks: [] };
  if (!existsSync(root)) return found;
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir)) {
      if (isOwnFile(name)) continue;
      if (rel === '' && (name === 'dead' || name === 'recover.lock')) continue;
      const full = path.join(dir, name);
      let st;
      try {
        st = statSync(full);
      } catch {
        continue; // replayed and deleted while we walked
      }
      const id = rel ? `${rel}/${name}` : name;
      if (st.isDirectory()) walk(full, id);
      else if (name.endsWith('.dat')) found.dats.push({ id, file: full, size: st.size, mtimeMs: st.mtimeMs });
      else if (name.endsWith('.dat.lock')) found.locks.push(full);
    }
  };
  walk(root, '');
  return found;
}

/** Queue payload of a replay job: the sink it serialises on and its (time, seq) order. */
export function jobPayload(id: string): { key: string; rank: string; time: number } {
  const r = parseRescueJobId(id);
  if (!r) return { key: `?/${id}`, rank: '', time: 0 };
  return { key: `${r.group}/${r.name.sink}`, rank: rescueRank(r.name), time: r.name.time };
}

/** The sink a replay job serialises on (`<group>/<sink>`), read back from its payload. */
export function jobSinkKey(job: Job): string {
  return typeof job.data.key === 'string' ? job.data.key : job.id;
}

/** The (time, seq) order rank of a replay job, read back from its payload. */
export function jobRank(job: Job): string {
  return typeof job.data.rank === 'string' ? job.data.rank : '';
}

/** Our own files in the rescue tree that are never rescue data. */
export function isOwnFile(name: string): boolean {
  return name.startsWith('.wprescue') || name.endsWith('.owner') || name.endsWith('.tmp');
}
