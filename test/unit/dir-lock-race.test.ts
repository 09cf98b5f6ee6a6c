import * as realFs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { pidNamespace, processStartTime } from '../../src/platform/pid-alive.js';
import { lockWparse } from '../../src/proj/wparse-lock.js';
import { lockRescueDir } from '../../src/recovery/dir-lock.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs once, right before dir-lock reads the holder's pid file (after it found it there): the holder's next step. */
const hook: { beforeRead?: (file: string) => void; afterRead?: (file: string) => void } = {};

/** The holder's pid file of either lock (not the takeover's temp name). */
const isPidFile = (p: unknown): boolean => /(\.wprescue|\/wparse)\.pid$/.test(String(p));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((p: realFs.PathOrFileDescriptor, o?: unknown) => {
    const h = hook.beforeRead;
    if (h && isPidFile(p)) {
      hook.beforeRead = undefined;
      h(String(p));
    }
    const read = (fs.readFileSync as (p: realFs.PathOrFileDescriptor, o?: unknown) => unknown)(p, o);
    const after = hook.afterRead;
    if (after && isPidFile(p)) {
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

  it('the same for wparse: two starts after a kill -9, the one that took over first keeps the work root', async () => {
    const root = tmpDir();
    const run = path.join(root, 'data/.run');
    realFs.mkdirSync(path.join(run, 'wparse.lock'), { recursive: true });
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    realFs.writeFileSync(path.join(run, 'wparse.pid'), `${deadPid} ${pidNamespace()}\n`);
    const other = spawn('sleep', ['60']);
    try {
      await new Promise((r) => other.once('spawn', r));
      const otherMark = `${other.pid} ${pidNamespace()} ${processStartTime(other.pid!)}\n`;
      hook.afterRead = () => {
        realFs.rmSync(path.join(run, 'wparse.lock'), { recursive: true });
        realFs.mkdirSync(path.join(run, 'wparse.lock'));
        realFs.writeFileSync(path.join(run, 'wparse.pid'), otherMark);
      };
      const err = await lockWparse(root, () => undefined).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      expect([err?.code, err?.message?.includes(`pid ${other.pid}`)]).toEqual(['USAGE', true]);
      expect(realFs.readFileSync(path.join(run, 'wparse.pid'), 'utf8')).toBe(otherMark);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('two wparse starting at once: the one that finds the lock taken before its holder named itself waits for the name, and is refused', async () => {
    const root = tmpDir();
    const run = path.join(root, 'data/.run');
    realFs.mkdirSync(path.join(run, 'wparse.lock'), { recursive: true }); // the other start's lock, its pid not written yet
    const other = spawn('sleep', ['60']);
    try {
      await new Promise((r) => other.once('spawn', r));
      const otherMark = `${other.pid} ${pidNamespace()} ${processStartTime(other.pid!)}\n`;
      const named = setTimeout(() => realFs.writeFileSync(path.join(run, 'wparse.pid'), otherMark), 300);
      const err = await lockWparse(root, () => undefined).then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      clearTimeout(named);
      expect([err?.code, err?.message?.includes(`pid ${other.pid}`)]).toEqual(['USAGE', true]);
      expect(realFs.readFileSync(path.join(run, 'wparse.pid'), 'utf8')).toBe(otherMark);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
