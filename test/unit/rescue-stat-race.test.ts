import * as realFs from 'node:fs';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { rescueStat } from '../../src/proj/rescue-stat.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * `wproj rescue stat` (and `wproj clean`, which asks it first) walks a rescue directory that
 * wprescue, wparse and the operator change under it. Each hook runs once, right after rescue-stat's
 * own call on a matching path returned: the other process's step in between two of ours.
 */
const after: { statSync?: (p: string) => void; countLines?: (p: string) => void } = {};

function once<K extends keyof typeof after>(k: K, p: string): void {
  const h = after[k];
  if (!h) return;
  after[k] = undefined;
  h(p);
}

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const statSync = ((p: realFs.PathLike, o?: realFs.StatSyncOptions) => {
    const st = fs.statSync(p, o);
    once('statSync', String(p));
    return st;
  }) as typeof fs.statSync;
  return { ...fs, statSync, default: { ...fs, statSync } };
});

vi.mock('../../src/proj/line-count.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/proj/line-count.js')>();
  return {
    countLines: (file: string, from?: number) => {
      if (after.countLines) {
        const h = after.countLines;
        after.countLines = undefined;
        h(file);
      }
      return real.countLines(file, from);
    },
  };
});

function rescueRoot(): string {
  const root = tmpDir();
  for (const g of ['a', 'b']) {
    mkdirSync(path.join(root, g));
    writeFileSync(path.join(root, g, 's-2026-11-22_10:00:00-0.dat'), 'x\ny\n');
  }
  return root;
}

describe('rescueStat racing the processes that change the directory', () => {
  it('a group directory removed (rm -rf) between its stat and its walk: the rest is counted, no ENOENT', () => {
    const root = rescueRoot();
    after.statSync = (p) => {
      expect(p).toBe(path.join(root, 'a')); // the walk's first stat
      rmSync(p, { recursive: true });
    };
    const st = rescueStat(root);
    expect([st.totalFiles, st.totalLines, Object.keys(st.bySink)]).toEqual([1, 2, ['b/s']]);
  });

  it('a .dat replayed and deleted by wprescue between its stat and its line count is not counted', () => {
    const root = rescueRoot();
    after.countLines = (f) => rmSync(f);
    const st = rescueStat(root);
    expect([st.totalFiles, st.totalLines, st.totalBytes, Object.keys(st.bySink)]).toEqual([1, 2, 4, ['b/s']]);
  });
});
