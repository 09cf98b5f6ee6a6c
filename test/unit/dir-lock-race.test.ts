import * as realFs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { pidNamespace, processStartTime } from '../../src/platform/pid-alive.js';
import { lockRescueDir } from '../../src/recovery/dir-lock.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs once, right before dir-lock reads the holder's pid file (after it found it there): the holder's next step. */
const hook: { beforeRead?: (file: string) => void; afterRead?: (file: string) => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((p: realFs.PathOrFileDescriptor, o?: unknown) => {
    const h = hook.beforeRead;
    if (h && String(p).endsWith('.wprescue.pid')) {
      hook.beforeRead = undefined;
      h(String(p));
    }
    const read = (fs.readFileSync as (p: realFs.PathOrFileDescriptor, o?: unknown) => unknown)(p, o);
    const after = hook.afterRead;
    if (after && String(p).endsWith('.wprescue.pid')) {
      hook.afterRead = undefined;
      after(String(p));
    }
    return read;
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

describe('lockRescueDir racing the holder', () => {
  it('a holder that releases between our look at its pid file and our read of it: the lock is taken, no raw ENOENT', async () => {
    const dir = tmpDir();
    const releaseFirst = await lockRescueDir(dir, () => undefined);
    let released: Promise<void> | undefined;
    // the holder's release: its pid file goes first, then its lock
    hook.beforeRead = () => {
      released = releaseFirst();
    };
    const releaseSecond = await lockRescueDir(dir, () => undefined);
    await released;
    expect(realFs.readFileSync(rescueLayout(dir).dirPid, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    await releaseSecond();
  }, 30_000);

  it('two starts after a kill -9 read the dead mark; the one that took over first keeps the directory', async () => {
    const dir = tmpDir();
    const { dirLock, dirPid } = rescueLayout(dir);
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    realFs.mkdirSync(dirLock);
    realFs.writeFileSync(dirPid, `${deadPid} ${pidNamespace()}\n`);
    const other = spawn('sleep', ['60']); // the other start, alive
    try {
      await new Promise((r) => other.once('spawn', r));
      const otherMark = `${other.pid} ${pidNamespace()} ${processStartTime(other.pid!)}\n`;
      // we read the dead mark; the other start's whole takeover lands before our next step
      hook.afterRead = () => {
        realFs.rmSync(dirLock, { recursive: true });
        realFs.mkdirSync(dirLock);
        realFs.writeFileSync(dirPid, otherMark);
      };
      const err = await lockRescueDir(dir, () => undefined).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      expect([err?.code, err?.message?.includes(`pid ${other.pid}`)]).toEqual(['RESCUE_DIR_LOCKED', true]);
      expect([realFs.existsSync(dirLock), realFs.readFileSync(dirPid, 'utf8')]).toEqual([true, otherMark]); // its lock and mark untouched
    } finally {
      other.kill('SIGKILL');
    }
  });
});
