import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidNamespace, processMark } from '../../src/platform/pid-alive.js';
import { ownerLockPath, ownerPidPath } from '../../src/rescue/layout.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import { ownerState, salvage } from '../../src/rescue/salvage.js';
import { OWNER_STALE_MS } from '../../src/rescue/writer.js';
import { tmpDir } from '../helpers/tmp.js';

/** A `.dat.lock` with its owner lock and the given mark beside it; returns the file and the lock's mtime. */
function owned(mark: string): { file: string; lockedAt: number } {
  const file = path.join(tmpDir(), 's-2026-11-22_10:00:00-0.dat.lock');
  writeFileSync(file, '');
  mkdirSync(ownerLockPath(file));
  writeFileSync(ownerPidPath(file), mark);
  return { file, lockedAt: statSync(ownerLockPath(file)).mtimeMs };
}

/** The pid of a process that has exited (and been reaped). */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());

describe('who owns a .dat.lock', () => {
  it('a pid of our namespace decides at once: live stays live past the stale age, dead is gone', () => {
    const live = owned(processMark());
    expect([ownerState(live.file, live.lockedAt), ownerState(live.file, live.lockedAt + 10 * OWNER_STALE_MS)]).toEqual(['live', 'live']);
    const dead = owned(`${deadPid()} ${pidNamespace()}\n`);
    expect(ownerState(dead.file, dead.lockedAt)).toBe('gone');
    const older = owned(String(process.pid)); // the bare pid an older writer left
    expect(ownerState(older.file, older.lockedAt)).toBe('live');
  });

  it("a pid of another namespace (another container's pid 1) means nothing here: the lock's age decides", () => {
    const foreign = owned(`${process.pid} pid:[1]\n`);
    expect(ownerState(foreign.file, foreign.lockedAt + OWNER_STALE_MS - 1)).toBe('unknown');
    expect(ownerState(foreign.file, foreign.lockedAt + OWNER_STALE_MS)).toBe('gone');
  });
});

describe('salvage', () => {
  it('a .dat.lock its live writer releases after the listing is left alone: gone, then not salvaged, the .dat intact', async () => {
    const { file, lockedAt } = owned(processMark());
    writeFileSync(file, 'a\nb\n');
    const listed = file; // what a scan saw
    expect(ownerState(listed, lockedAt)).toBe('live');
    // the writer releases in its order: rename, then pid, then lock
    const dat = file.slice(0, -'.lock'.length);
    renameSync(file, dat);
    rmSync(ownerPidPath(file));
    rmSync(ownerLockPath(file), { recursive: true });
    expect(ownerState(listed, lockedAt)).toBe('gone'); // nothing left to ask
    expect(await salvage(listed)).toBeUndefined();
    expect(readFileSync(dat, 'utf8')).toBe('a\nb\n');
  });

  it("a dead writer's file loses its torn last line and becomes .dat without its owner", async () => {
    const { file } = owned(`${deadPid()} ${pidNamespace()}\n`);
    writeFileSync(file, 'a\nb\ntor');
    const res = await salvage(file);
    expect(res).toEqual({ file: file.slice(0, -'.lock'.length), tornBytes: 3, bytes: 4 });
    expect(readFileSync(res!.file, 'utf8')).toBe('a\nb\n');
    expect([ownerLockPath(file), ownerPidPath(file)].map((f) => { try { statSync(f); return true; } catch { return false; } })).toEqual([false, false]);
  });

  it("a dead writer's file an operator removes while it is salvaged is passed over, not an error that stops the scan", async () => {
    const { file } = owned(`${deadPid()} ${pidNamespace()}\n`);
    writeFileSync(file, 'a\nb\n');
    // the rm lands after salvage opened the file, before its rename
    const fs: FsPort = { ...realFs, rename: async (from, to) => { rmSync(from); await realFs.rename(from, to); } };
    expect(await salvage(file, fs)).toBeUndefined();
    expect(ownerState(file)).toBe('gone'); // its owner is left for clearOrphanOwner on the next pass
  });

  it('a group directory removed between the rename and the directory sync: passed over, not an error', async () => {
    const { file } = owned(`${deadPid()} ${pidNamespace()}\n`);
    writeFileSync(file, 'a\n');
    const fs: FsPort = { ...realFs, rename: async (from, to) => { await realFs.rename(from, to); rmSync(path.dirname(to), { recursive: true }); } };
    expect(await salvage(file, fs)).toBeUndefined();
  });
});
