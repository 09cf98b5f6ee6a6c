import { promises as fsPromises, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { SinkSpec, WorkRoot } from '../../src/config/work-root.js';
import { ManualClock } from '../../src/platform/clock.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import type { SinkEntry } from '../../src/record.js';
import { rejectedToErrorGroup } from '../../src/recovery/rejected-to-error.js';
import { RescueWriter } from '../../src/rescue/writer.js';
import { tmpDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const entry = (n: number): SinkEntry => ({ id: `src:${n}`, kind: 'record', record: { n } });
// the parts of a work root and a sink spec that rejectedToErrorGroup reads
const wr = { groups: [{ name: 'error', sinks: [{ name: 'x' }] }] } as unknown as WorkRoot;
const spec = { group: 'app', key: 'app/main' } as unknown as SinkSpec;

describe('rejections of a replay written for the error group', () => {
  it('beside a wparse writer of that error sink in the same second: its file is never the name the writer renames over', async () => {
    const rescueDir = tmpDir();
    let replayFiles: string[] = [];
    // the writer has claimed its name and looked for a released .dat of it (none); right before its
    // open, replay writes its rejections for the same sink and second
    const fs: FsPort = {
      ...realFs,
      open: async (file, flags, mode) => {
        if (file.endsWith('.dat.lock') && replayFiles.length === 0) {
          replayFiles = (await rejectedToErrorGroup(wr, rescueDir, spec, [{ entry: entry(1), reason: 'HTTP 400' }], T0))!;
        }
        return realFs.open(file, flags, mode);
      },
    };
    const w = await RescueWriter.create({ rescueDir, group: 'error', sink: 'x', durability: 'none', flushMs: 10, clock: new ManualClock(T0), fs });
    await (await w.append([entry(2)])).durable;
    const released = await w.release();
    expect(replayFiles).toHaveLength(1);
    expect(path.basename(released)).toBe('x-2026-11-22_10:00:00-0.dat');
    expect(path.basename(replayFiles[0]!)).toBe('x-2026-11-22_10:00:00-1000000.dat');
    expect(readdirSync(path.join(rescueDir, 'error')).sort()).toEqual(['x-2026-11-22_10:00:00-0.dat', 'x-2026-11-22_10:00:00-1000000.dat']);
    expect(readFileSync(replayFiles[0]!, 'utf8')).toContain('"_error":"HTTP 400"');
    expect(readFileSync(released, 'utf8')).toContain('"n":2');
  });
});

const specA = { group: 'app', key: 'app/a' } as unknown as SinkSpec;
const specB = { group: 'app', key: 'app/b' } as unknown as SinkSpec;

// Found by an attack: every call staged its data in the same temp file `.x.rejected.<pid>.tmp`. Two replay
// workers (engine.recovery.workers > 1) that get rejections at once open it with 'w' (truncating
// each other), link whichever bytes are there, and the first one's `rm` of the temp makes the
// other's link fail with ENOENT: rejections are lost or written twice, or the job fails.
describe('two replay workers sending rejections to the error group at once', () => {
  it('each batch of rejections lands in the error group exactly once', async () => {
    const rescueDir = tmpDir();
    const many = (from: number): { entry: SinkEntry; reason: string }[] =>
      Array.from({ length: 2000 }, (_, i) => ({ entry: entry(from + i), reason: 'HTTP 400' }));
    const results = await Promise.allSettled([
      rejectedToErrorGroup(wr, rescueDir, specA, many(0), T0),
      rejectedToErrorGroup(wr, rescueDir, specB, many(10_000), T0),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const dir = path.join(rescueDir, 'error');
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.dat'))
      .map((f) => readFileSync(path.join(dir, f), 'utf8'))
      .join('');
    const ns = [...text.matchAll(/"n":(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    const want = [...Array.from({ length: 2000 }, (_, i) => i), ...Array.from({ length: 2000 }, (_, i) => 10_000 + i)];
    expect(ns).toEqual(want);
  });
});

// Found by an attack: writeReleased removed its temp file only around the link loop; when the write or the
// fdatasync fails (ENOSPC on a full rescue disk, EIO), `.x.rejected.<pid>.tmp` stays in
// <rescue.path>/error/ with whatever part was written: on a full disk it holds the space the
// retry needs, and once the process exits nothing removes it (wprescue's scans and
// `wproj rescue stat` do not see it).
describe('a failed write of replay rejections for the error group', () => {
  it('leaves no temp file behind', async () => {
    const rescueDir = tmpDir();
    const enospc: FsPort = {
      ...realFs,
      write: async (fh, data) => {
        await realFs.write(fh, Buffer.from(data).subarray(0, 10));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    await expect(rejectedToErrorGroup(wr, rescueDir, spec, [{ entry: entry(1), reason: 'HTTP 400' }], T0, enospc)).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(path.join(rescueDir, 'error'))).toEqual([]);
  });
});

// Found by an attack: each file probed seqs from 1000000 upward, one lstat and one link per name
// taken, so the k-th file of one second cost k probes (1,000 files in one second took 63 s).
describe('replay rejections written many times in one second', () => {
  it('each file takes the next free seq at once: one link per file, not one per file before it', async () => {
    const rescueDir = tmpDir();
    const link = vi.spyOn(fsPromises, 'link');
    try {
      for (let i = 0; i < 200; i++) await rejectedToErrorGroup(wr, rescueDir, spec, [{ entry: entry(i), reason: 'HTTP 400' }], T0);
      expect(link).toHaveBeenCalledTimes(200);
    } finally {
      link.mockRestore();
    }
    const names = readdirSync(path.join(rescueDir, 'error')).sort();
    expect(names).toHaveLength(200);
    expect(names[0]).toBe('x-2026-11-22_10:00:00-1000000.dat');
    expect(names.at(-1)).toBe('x-2026-11-22_10:00:00-1000199.dat');
  });
});
