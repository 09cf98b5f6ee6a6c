import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { WrError } from '../errors.js';
import { pidAlive } from '../rescue/salvage.js';

/**
 * One wprescue per rescue directory: a proper-lockfile lock at `<rescue>/.wprescue.lock` plus a
 * `<rescue>/.wprescue.pid` naming the holder. A lock whose holder pid is dead (kill -9) is taken
 * over at once instead of waiting for it to go stale.
 */
export async function lockRescueDir(dir: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  const lockPath = path.join(dir, '.wprescue.lock');
  const pidFile = path.join(dir, '.wprescue.pid');
  const opts = { lockfilePath: lockPath, realpath: false, stale: 10_000, update: 2_500, onCompromised };
  try {
    const release = await lockfile.lock(dir, opts);
    writeFileSync(pidFile, `${process.pid}\n`);
    return release;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const holder = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    if (Number.isInteger(holder) && holder !== process.pid && !pidAlive(holder)) {
      rmSync(lockPath, { recursive: true, force: true });
      const release = await lockfile.lock(dir, opts);
      writeFileSync(pidFile, `${process.pid}\n`);
      return release;
    }
    const who = Number.isInteger(holder) ? `pid ${holder}` : 'another process';
    throw new WrError('RESCUE_DIR_LOCKED', `rescue directory ${dir} is owned by another wprescue (${who}); stop it first`);
  }
}
