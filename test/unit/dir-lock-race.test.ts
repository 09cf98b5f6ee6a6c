import * as realFs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { lockRescueDir } from '../../src/recovery/dir-lock.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs once, right before dir-lock reads the holder's pid file (after it found it there): the holder's next step. */
const hook: { beforeRead?: (file: string) => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((p: realFs.PathOrFileDescriptor, o?: unknown) => {
    const h = hook.beforeRead;
    if (h && String(p).endsWith('.wprescue.pid')) {
      hook.beforeRead = undefined;
      h(String(p));
    }
    return (fs.readFileSync as (p: realFs.PathOrFileDescriptor, o?: unknown) => unknown)(p, o);
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
});
