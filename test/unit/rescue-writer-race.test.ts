import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { RescueWriter } from '../../src/rescue/writer.js';
import { tmpDir } from '../helpers/tmp.js';
import type { SinkEntry } from '../../src/record.js';

/** Runs once, before the next owner claim: another writer's steps in between the name look and the claim. */
const beforeClaim: { hook?: () => Promise<void> } = {};

vi.mock('proper-lockfile', async (importOriginal) => {
  const real = (await importOriginal<{ default: typeof import('proper-lockfile') }>()).default;
  const lock: typeof real.lock = async (file, opts) => {
    const h = beforeClaim.hook;
    beforeClaim.hook = undefined;
    await h?.();
    return real.lock(file, opts);
  };
  return { default: { ...real, lock } };
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const entry = (n: number): SinkEntry => ({ id: `src:${n}`, kind: 'record', record: { n } });

describe('two writers of one sink choosing a name in the same second', () => {
  it('a writer that made, wrote and released the name after the other looked: the other takes the next seq, both files kept', async () => {
    const rescueDir = tmpDir();
    const opts = { rescueDir, group: 'g', sink: 's', durability: 'none' as const, flushMs: 10, clock: new ManualClock(T0) };
    let firstFile = '';
    beforeClaim.hook = async () => {
      const first = await RescueWriter.create(opts); // claims after the second looked at seq 0
      await (await first.append([entry(1)])).durable;
      firstFile = await first.release();
    };
    const second = await RescueWriter.create(opts);
    await (await second.append([entry(2)])).durable;
    const secondFile = await second.release();
    expect([path.basename(firstFile), path.basename(secondFile)]).toEqual(['s-2026-11-22_10:00:00-0.dat', 's-2026-11-22_10:00:00-1.dat']);
    expect(readdirSync(path.join(rescueDir, 'g')).sort()).toEqual(['s-2026-11-22_10:00:00-0.dat', 's-2026-11-22_10:00:00-1.dat']);
    expect(readFileSync(firstFile, 'utf8')).toContain('"n":1');
    expect(readFileSync(secondFile, 'utf8')).toContain('"n":2');
  });
});
