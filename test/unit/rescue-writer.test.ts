import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import type { Logger } from '../../src/platform/logger.js';
import { processMark } from '../../src/platform/pid-alive.js';
import { ownerLockPath, ownerPidPath } from '../../src/rescue/layout.js';
import { RescueWriter } from '../../src/rescue/writer.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import type { SinkEntry } from '../../src/record.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

describe('RescueWriter.create', () => {
  it('a .dat.lock never exists without its writer pid: the owner is claimed before the file is made', async () => {
    const rescueDir = tmpDir();
    const seenAtOpen: boolean[] = [];
    const fs: FsPort = {
      ...realFs,
      open: (file, flags, mode) => {
        if (file.endsWith('.dat.lock')) seenAtOpen.push(existsSync(ownerPidPath(file)) && !existsSync(file));
        return realFs.open(file, flags, mode);
      },
    };
    const w = await RescueWriter.create({ rescueDir, group: 'g', sink: 's', durability: 'none', flushMs: 10, clock: new ManualClock(T0), fs });
    expect(seenAtOpen).toEqual([true]);
    expect(readFileSync(ownerPidPath(w.file), 'utf8')).toBe(processMark());
    await w.release();
    expect(readdirSync(path.join(rescueDir, 'g'))).toEqual(['s-2026-11-22_10:00:00-0.dat']);
  });

  it('a name whose owner is claimed (a live writer, or a crash between claim and create) is passed over', async () => {
    const rescueDir = tmpDir();
    const clock = new ManualClock(T0);
    const opts = { rescueDir, group: 'g', sink: 's', durability: 'none' as const, flushMs: 10, clock };
    const first = await RescueWriter.create(opts);
    const failing: FsPort = {
      ...realFs,
      open: (file, flags, mode) => (file.endsWith('-1.dat.lock') ? Promise.reject(Object.assign(new Error('EEXIST'), { code: 'EEXIST' })) : realFs.open(file, flags, mode)),
    };
    const second = await RescueWriter.create({ ...opts, fs: failing });
    expect([path.basename(first.file), path.basename(second.file)]).toEqual(['s-2026-11-22_10:00:00-0.dat.lock', 's-2026-11-22_10:00:00-2.dat.lock']);
    // the claim on -1 was given back: no owner lock without its file is left behind
    expect(existsSync(path.join(rescueDir, 'g', 's-2026-11-22_10:00:00-1.dat.lock.owner'))).toBe(false);
    await Promise.all([first.release(), second.release()]);
    expect(readdirSync(path.join(rescueDir, 'g')).sort()).toEqual(['s-2026-11-22_10:00:00-0.dat', 's-2026-11-22_10:00:00-2.dat']);
  });

  it('the owner lock survives its refreshes (the pid lies beside it, not in it) and is gone after release', async () => {
    const rescueDir = tmpDir();
    const errors: string[] = [];
    const log = { error: (_o: unknown, m: string) => errors.push(m), warn: () => {}, info: () => {}, debug: () => {} } as unknown as Logger;
    const w = await RescueWriter.create({ rescueDir, group: 'g', sink: 's', durability: 'none', flushMs: 10, clock: new ManualClock(T0), log });
    const lock = ownerLockPath(w.file);
    const taken = statSync(lock).mtimeMs;
    await until(() => statSync(lock).mtimeMs !== taken, 15_000); // proper-lockfile refreshed it (every 2.5 s)
    await until(() => statSync(lock).mtimeMs > taken + 2000, 15_000); // and again: it still believes it owns the lock
    expect(errors).toEqual([]);
    await w.release();
    expect(readdirSync(path.join(rescueDir, 'g'))).toEqual(['s-2026-11-22_10:00:00-0.dat']);
  });
});

describe('RescueWriter durability none', () => {
  it('syncs in the background every backgroundSyncBytes without holding appends up; the release syncs the rest', async () => {
    const rescueDir = tmpDir();
    const held: Array<() => void> = [];
    let syncs = 0;
    const fs: FsPort = {
      ...realFs,
      datasync: async (fh) => {
        syncs++;
        await new Promise<void>((resolve) => held.push(resolve)); // a slow disk: the sync waits until let go
        await realFs.datasync(fh);
      },
    };
    const w = await RescueWriter.create({ rescueDir, group: 'g', sink: 's', durability: 'none', flushMs: 10, clock: new ManualClock(T0), fs, backgroundSyncBytes: 1000 });
    const entry = (n: number): SinkEntry => ({ id: `src:${n}`, kind: 'record', record: { n, pad: 'x'.repeat(250) } });
    for (let n = 0; n < 3; n++) await (await w.append([entry(n)])).durable; // 320 bytes each: no sync yet
    expect(syncs).toBe(0);
    await (await w.append([entry(3)])).durable; // past 1000 bytes: one sync starts, nobody waits for it
    expect(syncs).toBe(1);
    for (let n = 4; n < 12; n++) await (await w.append([entry(n)])).durable; // one sync at a time
    expect(syncs).toBe(1);
    const released = w.release();
    held.shift()!(); // the background sync ends; the release then syncs what came after
    await until(() => held.length === 1);
    expect(syncs).toBe(2);
    held.shift()!();
    const dat = await released;
    expect(readFileSync(dat, 'utf8').split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(Array.from({ length: 12 }, (_, n) => `src:${n}`));
  });
});

describe('RescueWriter.release racing an rm', () => {
  it('a .dat.lock removed after the release looked for a removal and before its rename keeps every line', async () => {
    const rescueDir = tmpDir();
    let raced = false;
    const fs: FsPort = {
      ...realFs,
      rename: async (from, to) => {
        // `rm -rf data/rescue/g` lands here: after the nlink check, before the rename
        if (!raced && from.endsWith('.dat.lock')) {
          raced = true;
          rmSync(path.join(rescueDir, 'g'), { recursive: true, force: true });
        }
        await realFs.rename(from, to);
      },
    };
    const w = await RescueWriter.create({ rescueDir, group: 'g', sink: 's', durability: 'none', flushMs: 10, clock: new ManualClock(T0), fs });
    const entries: SinkEntry[] = [0, 1, 2].map((n) => ({ id: `src:${n}`, kind: 'record', record: { n } }));
    await w.append(entries);
    const dat = await w.release();
    expect(raced).toBe(true);
    expect(readFileSync(dat, 'utf8').split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['src:0', 'src:1', 'src:2']);
    expect(existsSync(w.file)).toBe(false);
  });
});

describe('RescueWriter.create racing an rm', () => {
  it('the group directory removed between the open and the directory sync: a failing rescue write (retried), not a raw ENOENT', async () => {
    const rescueDir = tmpDir();
    let raced = false;
    const fs: FsPort = {
      ...realFs,
      syncDir: async (dir) => {
        if (!raced) {
          raced = true;
          rmSync(dir, { recursive: true, force: true }); // `rm -rf data/rescue/g` beside the running wparse
        }
        await realFs.syncDir(dir);
      },
    };
    const opts = { rescueDir, group: 'g', sink: 's', durability: 'none' as const, flushMs: 10, clock: new ManualClock(T0), fs };
    await expect(RescueWriter.create(opts)).rejects.toMatchObject({ code: 'RESCUE_WRITE_FAILED' });
    const w = await RescueWriter.create(opts); // the sink's retry: the directory made again, the name free
    expect(path.basename(await w.release())).toBe('s-2026-11-22_10:00:00-0.dat');
  });
});
