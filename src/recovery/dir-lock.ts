import { mkdirSync, rmSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { WrError, errnoCode } from '../errors.js';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { claimMark, readMark } from '../platform/mark-claim.js';
import { markAlive, parseMark, processMark } from '../platform/pid-alive.js';
import { rescueLayout } from '../rescue/layout.js';

/**
 * One wprescue per rescue directory: a proper-lockfile lock at `<rescue>/.wprescue.lock` plus a
 * `<rescue>/.wprescue.pid` naming the holder (`<pid> <pid namespace> <start time>`). A lock whose
 * holder is dead (kill -9; its pid free, or reused by a process started later) is taken over at
 * once instead of waiting for it to go stale. Releasing removes the pid file first, so a
 * clean exit leaves neither behind. A lock removed under its holder (`rm -rf data/rescue` while a
 * daemon runs; proper-lockfile notices within `update` ms) is taken again with its pid file, so a
 * second wprescue still finds the directory owned; `onCompromised` is called only when that fails
 * (another process took the lock first), and the holder must then stop.
 */
export async function lockRescueDir(dir: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  const { dirLock: lockPath, dirPid: pidFile } = rescueLayout(dir);
  let release: () => Promise<void> = () => Promise.resolve();
  let released = false;
  let lost = false; // the lock and pid file are another process's now: release must not touch them
  const lose = (err: Error): void => {
    lost = true;
    onCompromised(err);
  };
  const retake = (): void => {
    let locked = false;
    const attempt = async (): Promise<void> => {
      if (released) return;
      if (!locked) {
        mkdirSync(dir, { recursive: true });
        release = await lockfile.lock(dir, opts);
        locked = true;
      }
      writeFileAtomicSync(pidFile, processMark(), false);
    };
    const tryAgain = (): void =>
      void attempt().catch((err: unknown) => {
        if (errnoCode(err) === 'ELOCKED') return lose(err as Error);
        // the directory went again while we took it (an `rm -rf` still under way): try again shortly
        setTimeout(tryAgain, 200).unref();
      });
    tryAgain();
  };
  const opts = { lockfilePath: lockPath, realpath: false, stale: 10_000, update: 2_500, onCompromised: retake };
  const owned = (r: () => Promise<void>): (() => Promise<void>) => {
    release = r;
    writeFileAtomicSync(pidFile, processMark(), false);
    return async () => {
      released = true;
      if (lost) return;
      rmSync(pidFile, { force: true });
      await release();
    };
  };
  try {
    return owned(await lockfile.lock(dir, opts));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const mark = readMark(pidFile);
    const pid = parseMark(mark)?.pid;
    let who = pid === undefined ? 'another process' : `pid ${pid}`;
    let waitForStale = pid === undefined; // a holder killed between taking the lock and writing its pid
    // our own pid too: a mark of our pid with another start time is a dead holder whose pid we got
    if (pid !== undefined && markAlive(mark) === false) {
      const claim = claimMark(pidFile, mark);
      if (claim.ours) {
        rmSync(lockPath, { recursive: true, force: true });
        try {
          return owned(await lockfile.lock(dir, opts));
        } catch (e) {
          if (errnoCode(e) !== 'ELOCKED') throw e;
          who = 'another process'; // one that found no pid while we took over, and waited for the lock
        }
      } else if (claim.mark === undefined) {
        waitForStale = true; // another start is taking over now: wait as for a holder without pid
        who = 'another process';
      } else {
        who = `pid ${parseMark(claim.mark)?.pid ?? '?'}`; // one took over before us: it holds the directory
      }
    }
    if (waitForStale) {
      // no holder to ask: wait until proper-lockfile sees the lock as stale (it is refreshed every
      // 2.5 s while its owner lives)
      try {
        return owned(await lockfile.lock(dir, { ...opts, retries: { retries: 15, factor: 1, minTimeout: 1000, maxTimeout: 1000 } }));
      } catch {
        // still held: fall through to the error
      }
    }
    throw new WrError('RESCUE_DIR_LOCKED', `rescue directory ${dir} is owned by another wprescue (${who}); stop it first`);
  }
}
