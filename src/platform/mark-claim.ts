import { readFileSync, renameSync, rmSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { tmpPathFor } from './atomic-write.js';

/**
 * Taking over a lock whose holder is dead (`.wprescue.lock`, `wparse.lock`): its pid file holds the
 * holder's mark (pid-alive.ts). Two starts after a kill -9 both read the dead mark; each removing
 * the lock and taking it, the later one removed the lock the earlier had just taken, and both ran
 * (the same files replayed, the same input read, twice).
 */

/** The mark in a pid file, or '' when there is none (read once: no existsSync before it). */
export function readMark(pidFile: string): string {
  try {
    return readFileSync(pidFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return '';
    throw err;
  }
}

/**
 * Renames the pid file holding `mark` away, which one process alone can do: `ours` when the file
 * it got still held that mark (the caller then removes the dead lock and takes it). Got another
 * mark (a holder that took over in between): put back, and returned. Got nothing: another start
 * is taking over now. The name is a temp name (`.tmp`), skipped by every walker.
 */
export function claimMark(pidFile: string, mark: string): { ours: true } | { ours: false; mark?: string } {
  const claimed = `${tmpPathFor(pidFile).slice(0, -'.tmp'.length)}.takeover.tmp`;
  try {
    renameSync(pidFile, claimed);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ours: false };
    throw err;
  }
  const found = readMark(claimed);
  if (found === mark) {
    rmSync(claimed, { force: true });
    return { ours: true };
  }
  renameSync(claimed, pidFile);
  return { ours: false, mark: found };
}
