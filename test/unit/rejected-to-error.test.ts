import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
