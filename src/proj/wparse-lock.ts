import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { WrError } from '../errors.js';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { pidAlive } from '../platform/pid-alive.js';

/**
 * One wparse per work root: two would read the same files from the same checkpoints and write
 * every line twice, and `wproj data clean` under a running wparse leaves it writing into deleted
 * files (every later line lost). The holder takes a proper-lockfile lock `data/.run/wparse.lock`
 * and names itself in `data/.run/wparse.pid`, beside the lock rather than inside it (a file created
 * in the lock directory changes its mtime, which proper-lockfile reads as a compromised lock).
 * A lock whose holder pid is dead (kill -9) is taken over at once.
 */
const lockPath = (root: string): string => path.join(root, 'data', '.run', 'wparse.lock');
const pidPath = (root: string): string => path.join(root, 'data', '.run', 'wparse.pid');

/** The pid of the live wparse holding this work root, if any. */
export function wparseHolder(root: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidPath(root), 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid) ? pid : undefined;
}

/** Takes the work root for this wparse, or throws USAGE (exit 2) naming the one that has it. */
export async function lockWparse(root: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  mkdirSync(path.dirname(lockPath(root)), { recursive: true });
  const opts = { lockfilePath: lockPath(root), realpath: false, stale: 10_000, update: 2_500, onCompromised };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(root, opts);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const holder = wparseHolder(root);
    if (holder !== undefined) throw new WrError('USAGE', `work root ${root} is in use by another wparse (pid ${holder}); stop it first`);
    // its holder is gone (or was killed before naming itself): take it over
    rmSync(lockPath(root), { recursive: true, force: true });
    release = await lockfile.lock(root, opts);
  }
  writeFileAtomicSync(pidPath(root), `${process.pid}\n`, false);
  return async () => {
    rmSync(pidPath(root), { force: true });
    await release();
  };
}
