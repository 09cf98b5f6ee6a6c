import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pidNamespace, processMark, processStartTime } from '../../src/platform/pid-alive.js';
import { lockRescueDir } from '../../src/recovery/dir-lock.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { tmpDir } from '../helpers/tmp.js';

/** A fresh lock (proper-lockfile alone would refuse it) whose pid file holds `mark`. */
function heldBy(mark: string): string {
  const dir = tmpDir();
  const { dirLock, dirPid } = rescueLayout(dir);
  mkdirSync(dirLock, { recursive: true });
  writeFileSync(dirPid, mark);
  return dir;
}

describe('lockRescueDir and the holder pid mark', () => {
  it('the dead holder pid was reused by this very process (started later): taken over', async () => {
    // a wprescue killed with -9 whose pid the next wprescue got: the mark's start time is not ours
    const start = Number(processStartTime(process.pid));
    const dir = heldBy(`${process.pid} ${pidNamespace()} ${start - 1}\n`);
    const release = await lockRescueDir(dir, () => undefined);
    expect(readFileSync(rescueLayout(dir).dirPid, 'utf8')).toBe(processMark());
    await release();
  });

  it('this process itself holds it (same pid, same start time): refused', async () => {
    const dir = heldBy(processMark());
    await expect(lockRescueDir(dir, () => undefined)).rejects.toMatchObject({ code: 'RESCUE_DIR_LOCKED' });
  });
});
