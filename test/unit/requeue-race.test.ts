import * as realFs from 'node:fs';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { systemClock } from '../../src/platform/clock.js';
import { QueueStore } from '../../src/queue/store.js';
import { queueStatus, requeueDead } from '../../src/recovery/admin.js';
import { jobPayload } from '../../src/recovery/discovery.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

/** Runs once, right before admin's rename of a matching path: an operator's `rm` in between. */
const before: { rename?: (from: string) => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const rename = (async (from: realFs.PathLike, to: realFs.PathLike) => {
    const h = before.rename;
    before.rename = undefined;
    h?.(String(from));
    return fs.promises.rename(from, to);
  }) as typeof fs.promises.rename;
  const promises = { ...fs.promises, rename };
  return { ...fs, promises, default: { ...fs, promises } };
});

async function rootWithDeadJobs(n: number): Promise<{ root: string; ids: string[]; rescue: string }> {
  const root = makeWorkRoot(tmpDir());
  const rescue = path.join(root, 'data/rescue');
  const store = await QueueStore.open({ dir: path.join(root, 'data/.run/queue'), fsync: 'none', completedHistory: 100, clock: systemClock });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = writeRescueFile(path.join(rescue, 'dead'), 'app', 'main', T0 + i * 1000, 0, range(i * 10, i * 10 + 10));
    const id = path.relative(path.join(rescue, 'dead'), file);
    await store.enqueue(id, jobPayload(id));
    await store.transition('DISPATCH', id);
    await store.transition('DEAD', id, { error: 'test' });
    ids.push(id);
  }
  await store.close();
  return { root, ids, rescue };
}

describe('wprescue requeue --dead racing an operator', () => {
  it('a quarantined file removed right before its move home: no error, every dead job pending again, the other file moved', async () => {
    const { root, ids, rescue } = await rootWithDeadJobs(2);
    const gone = rescueLayout(rescue).deadFile(ids[0]!);
    before.rename = (from) => {
      expect(from).toBe(gone);
      rmSync(from);
    };
    expect((await requeueDead(loadWorkRoot(root))).sort()).toEqual([...ids].sort());
    expect(before.rename).toBeUndefined();
    expect(existsSync(path.join(rescue, ids[1]!))).toBe(true);
    expect(existsSync(path.join(rescue, ids[0]!))).toBe(false);
    expect(queueStatus(loadWorkRoot(root)).counts).toMatchObject({ pending: 2, dead: 0 });
  });
});
