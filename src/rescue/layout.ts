import path from 'node:path';
import { parseRescueName } from './file-name.js';

/**
 * The rescue directory's layout, in one place. Everything `wparse`, `wprescue` and `wproj` put
 * under `rescue.path`:
 *
 *   <group>/<sink>-<UTC time>-<seq>.dat.lock      being written (file-name.ts)
 *   <group>/<sink>-<UTC time>-<seq>.dat.lock.owner      the writer's ownership lock (a directory)
 *   <group>/<sink>-<UTC time>-<seq>.dat.lock.owner.pid  the writer's pid, beside the lock: a file
 *                                                  inside it would change the lock's mtime, which
 *                                                  proper-lockfile takes for another owner's
 *   <group>/<sink>-<UTC time>-<seq>.dat           released: a replay job (id = path relative to rescue.path)
 *   recover.lock                                   replay checkpoints (recovery/checkpoint.ts)
 *   .wprescue.lock/  .wprescue.pid                 the one wprescue that owns the directory
 *   dead/<job id>                                  a dead job's quarantined file
 *   dead/<job id>.reason                           why it died
 *   dead/<job id>.bad.jsonl                        invalid lines of a job (line number, offset, text; base64 bytes when not UTF-8)
 *   dead/<job id>.rejected.jsonl                   records the sink rejected during replay, when no error group takes them
 *
 * Job ids always use `/`, whatever the platform. Walkers call `classify` so that every one of them
 * skips the same names.
 */
export const RECOVER_LOCK = 'recover.lock';
export const DEAD_DIR = 'dead';
const DIR_LOCK = '.wprescue.lock';
const DIR_PID = '.wprescue.pid';

export interface RescueLayout {
  root: string;
  recoverLock: string;
  deadDir: string;
  dirLock: string;
  dirPid: string;
  /** The file of a job (a released `.dat`). */
  jobFile(jobId: string): string;
  /** A dead job's quarantined file; `.reason`, `.bad.jsonl` and `.rejected.jsonl` sit beside it. */
  deadFile(jobId: string): string;
  reasonFile(jobId: string): string;
  badLinesFile(jobId: string): string;
  rejectedFile(jobId: string): string;
  /** The job id of a file under the root, or undefined if it lies outside. */
  jobIdOf(file: string): string | undefined;
}

export function rescueLayout(root: string): RescueLayout {
  const deadDir = path.join(root, DEAD_DIR);
  const dead = (jobId: string): string => path.join(deadDir, ...jobId.split('/'));
  return {
    root,
    recoverLock: path.join(root, RECOVER_LOCK),
    deadDir,
    dirLock: path.join(root, DIR_LOCK),
    dirPid: path.join(root, DIR_PID),
    jobFile: (jobId) => path.join(root, ...jobId.split('/')),
    deadFile: dead,
    reasonFile: (jobId) => `${dead(jobId)}.reason`,
    badLinesFile: (jobId) => `${dead(jobId)}.bad.jsonl`,
    rejectedFile: (jobId) => `${dead(jobId)}.rejected.jsonl`,
    jobIdOf(file) {
      const rel = path.relative(root, path.resolve(file));
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
      return rel.split(path.sep).join('/');
    },
  };
}

/** The writer's ownership lock beside a `.dat.lock` (never ending in `.lock`, see SPEC section 4). */
export const ownerLockPath = (file: string): string => `${file}.owner`;
export const ownerPidPath = (file: string): string => `${file}.owner.pid`;

/** The `.dat.lock` an owner entry (the lock, anything in it, or the pid file) belongs to. */
export function ownedFile(ownerEntry: string): string {
  return ownerEntry.slice(0, ownerEntry.lastIndexOf('.owner'));
}

export type EntryKind = 'job' | 'writing' | 'owner' | 'dead-dir' | 'recover-lock' | 'dir-lock' | 'temp' | 'foreign';

/**
 * What a name found while walking the rescue directory is. `relPath` is relative to the root with
 * `/` separators. A `.dat` whose name does not parse is still a `job` (it becomes a dead job with
 * a reason, never guessed at); names we write as temporaries (`.tmp`) and anything else are
 * `temp` / `foreign` and left alone.
 */
export function classify(relPath: string): EntryKind {
  const parts = relPath.split('/');
  const name = parts[parts.length - 1]!;
  if (parts.length === 1) {
    if (name === DEAD_DIR) return 'dead-dir';
    if (name === RECOVER_LOCK) return 'recover-lock';
    if (name === DIR_LOCK || name === DIR_PID) return 'dir-lock';
  }
  if (parts.some((p) => p.endsWith('.owner')) || name.endsWith('.owner.pid')) return 'owner';
  if (name.endsWith('.tmp')) return 'temp';
  if (name.endsWith('.dat')) return 'job';
  if (name.endsWith('.dat.lock')) return parseRescueName(name) ? 'writing' : 'foreign';
  return 'foreign';
}
