import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { WrError } from '../errors.js';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { claimMark, readMark } from '../platform/mark-claim.js';
import { markAlive, parseMark, processMark } from '../platform/pid-alive.js';

/**
 * One wparse per work root: two would read the same files from the same checkpoints and write
 * every line twice, and `wproj data clean` under a running wparse leaves it writing into deleted
 * files (every later line lost). The holder takes a proper-lockfile lock `data/.run/wparse.lock`
 * and names itself in `data/.run/wparse.pid`, beside the lock rather than inside it (a file created
 * in the lock directory changes its mtime, which proper-lockfile reads as a compromised lock).
 * A lock whose holder pid is dead (kill -9) is taken over at once, by one start only (the pid file
 * is claimed by rename, platform/mark-claim.ts); a lock without a pid yet is waited on until its
 * holder names itself or the lock goes stale; a holder of another pid namespace (every daemon may
 * be pid 1 of its own container) holds it until its lock goes stale.
 */
const lockPath = (root: string): string => path.join(root, 'data', '.run', 'wparse.lock');
const pidPath = (root: string): string => path.join(root, 'data', '.run', 'wparse.pid');
const STALE_MS = 10_000;

/** The pid of the live wparse holding this work root, if any. */
export function wparseHolder(root: string): number | undefined {
  let mark: string;
  try {
    mark = readFileSync(pidPath(root), 'utf8');
  } catch {
    return undefined;
  }
  return holderOf(root, mark);
}

/** The pid of the live wparse `mark` names, if it is one. */
function holderOf(root: string, mark: string): number | undefined {
  const pid = parseMark(mark)?.pid;
  if (pid === undefined) return undefined;
  const alive = markAlive(mark);
  // a pid of another pid namespace (another container on this volume) tells nothing here: a lock
  // its holder still refreshes does
  if (alive === undefined) return lockFresh(root) ? pid : undefined;
  return pid !== process.pid && alive ? pid : undefined;
}

function lockFresh(root: string): boolean {
  try {
    return Date.now() - statSync(lockPath(root)).mtimeMs < STALE_MS;
  } catch {
    return false;
  }
}

/** Takes the work root for this wparse, or throws USAGE (exit 2) naming the one that has it. */
export async function lockWparse(root: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  mkdirSync(path.dirname(lockPath(root)), { recursive: true });
  const opts = { lockfilePath: lockPath(root), realpath: false, stale: STALE_MS, update: STALE_MS / 4, onCompromised };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(root, opts);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const inUse = (who: string): WrError => new WrError('USAGE', `work root ${root} is in use by another wparse (${who}); stop it first`);
    // the liveness is judged on the very mark claimed below (read twice, a takeover in between was missed)
    const mark = readMark(pidPath(root));
    const holder = holderOf(root, mark);
    if (holder !== undefined) throw inUse(`pid ${holder}`);
    // No name: a holder between taking the lock and naming itself (two starts at once), or killed
    // there. Its lock was removed at once and both ran; now it is given time to name itself.
    if (mark === '') return owned(root, await waitForName(root, opts, inUse));
    // its holder is gone: take it over, unless another start did first
    const claim = claimMark(pidPath(root), mark);
    if (!claim.ours) throw inUse(claim.mark ? `pid ${parseMark(claim.mark)?.pid ?? '?'}` : 'one starting now');
    rmSync(lockPath(root), { recursive: true, force: true });
    try {
      release = await lockfile.lock(root, opts);
    } catch (e) {
      if ((e as { code?: string }).code === 'ELOCKED') throw inUse('one starting now');
      throw e;
    }
  }
  return owned(root, release);
}

/** Names this process as the holder; the release removes the name first. */
function owned(root: string, release: () => Promise<void>): () => Promise<void> {
  writeFileAtomicSync(pidPath(root), processMark(), false);
  return async () => {
    rmSync(pidPath(root), { force: true });
    await release();
  };
}

/**
 * Waits (polling) until the lock's holder names itself (refused, naming it) or its lock goes stale
 * (proper-lockfile then takes it over: a holder killed before naming itself).
 */
async function waitForName(root: string, opts: lockfile.LockOptions, inUse: (who: string) => WrError): Promise<() => Promise<void>> {
  const deadline = Date.now() + 2 * STALE_MS;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const holder = holderOf(root, readMark(pidPath(root)));
    if (holder !== undefined) throw inUse(`pid ${holder}`);
    try {
      return await lockfile.lock(root, opts);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    }
    if (Date.now() > deadline) throw inUse('another process');
  }
}
