import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSlot, parseCheckpoint, RecoverCheckpoint } from '../../src/recovery/checkpoint.js';
import { tmpDir } from '../helpers/tmp.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures');
const JOB = 'app/main-2026-11-22_10:00:00-0.dat';

/** The golden file's history: two updates, so both slots hold a state (slot 1: seq 1, slot 0: seq 2). */
async function goldenHistory(file: string): Promise<RecoverCheckpoint> {
  const cp = new RecoverCheckpoint(file, true);
  await cp.set(JOB, { offset: 200, lines: 1, file: '1234-1764496800000000000-20000-9a3c1e2f' });
  await cp.set(JOB, { offset: 51_200, lines: 256, file: '1234-1764496800000000000-20000-9a3c1e2f' });
  await cp.set('app/other-2026-11-22_10:00:00-0.dat', { offset: 0, lines: 0, file: '99-1-0-0' });
  await cp.remove('app/other-2026-11-22_10:00:00-0.dat');
  cp.close();
  return cp;
}

describe('recover.lock', () => {
  it('version 2 layout is pinned by its golden file; version 1 is still read', async () => {
    const file = path.join(tmpDir(), 'recover.lock');
    await goldenHistory(file);
    expect(readFileSync(file).equals(readFileSync(path.join(FIXTURES, 'recover-lock-v2.bin')))).toBe(true);
    expect(RecoverCheckpoint.read(file)).toEqual({ [JOB]: { offset: 51_200, lines: 256, file: '1234-1764496800000000000-20000-9a3c1e2f' } });
    const v1 = path.join(tmpDir(), 'recover.lock');
    copyFileSync(path.join(FIXTURES, 'recover-lock-v1.json'), v1);
    expect(RecoverCheckpoint.read(v1)).toEqual({ [JOB]: { offset: 51_200, lines: 256 } });
    const cp = new RecoverCheckpoint(v1, false);
    await cp.set(JOB, { offset: 60_000, lines: 300 }); // rewritten as version 2
    expect(readFileSync(v1).subarray(0, 6).toString()).not.toBe('{"vers');
    expect(RecoverCheckpoint.read(v1)).toEqual({ [JOB]: { offset: 60_000, lines: 300 } });
  });

  it('a slot torn at every byte offset: a restart resumes at the last durable position', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'recover.lock');
    const cp = new RecoverCheckpoint(file, true);
    for (let i = 1; i <= 5; i++) await cp.set(JOB, { offset: i * 1000, lines: i * 5, file: 'id' }); // seq 5 in slot 1, seq 4 in slot 0
    cp.close();
    const durable = readFileSync(file);
    const slot = durable.length / 2;
    const next = encodeSlot(6, { [JOB]: { offset: 6000, lines: 30, file: 'id' }, 'app/b-2026-11-22_10:00:00-1.dat': { offset: 1, lines: 1 } });
    for (let k = 0; k <= next.length; k++) {
      const torn = Buffer.from(durable);
      next.copy(torn, 0, 0, k); // seq 6 goes to slot 0, over seq 4
      writeFileSync(file, torn);
      const got = new RecoverCheckpoint(file, true).get(JOB);
      expect(got, `torn after ${k} of ${next.length} bytes`).toEqual(k === next.length ? { offset: 6000, lines: 30, file: 'id' } : { offset: 5000, lines: 25, file: 'id' });
      if (k === Math.floor(next.length / 2)) {
        // the update after a torn one overwrites the torn slot, never the good one
        const again = new RecoverCheckpoint(file, true);
        await again.set(JOB, { offset: 7000, lines: 35, file: 'id' });
        again.close();
        const after = readFileSync(file);
        expect(after.subarray(slot).equals(durable.subarray(slot))).toBe(true);
        expect(parseCheckpoint(after).files[JOB]).toMatchObject({ offset: 7000 });
      }
    }
  });

  it('a state that outgrows its slot is moved to a file with bigger slots, atomically', async () => {
    const file = path.join(tmpDir(), 'recover.lock');
    const cp = new RecoverCheckpoint(file, false);
    for (let i = 0; i < 200; i++) await cp.set(`g/sink-2026-11-22_10:00:00-${i}.dat`, { offset: i, lines: i, file: `${i}-0-0-0` });
    cp.close();
    expect(readFileSync(file).length).toBeGreaterThan(8192);
    expect(Object.keys(RecoverCheckpoint.read(file))).toHaveLength(200);
    expect(RecoverCheckpoint.read(file)['g/sink-2026-11-22_10:00:00-199.dat']).toEqual({ offset: 199, lines: 199, file: '199-0-0-0' });
  });
});
