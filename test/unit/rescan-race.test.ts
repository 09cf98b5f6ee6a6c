import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Found } from '../../src/recovery/discovery.js';
import { runRescue } from '../../src/recovery/service.js';
import { outputNs } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

/** Entries added to the next listing: what a scan saw before a replay deleted the file. */
const stale: { dats: Found['dats'] } = { dats: [] };

vi.mock('../../src/recovery/discovery.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/recovery/discovery.js')>();
  return {
    ...real,
    scanRescueDir: (root: string, known?: (id: string) => boolean): Found => {
      const found = real.scanRescueDir(root, known);
      found.dats.push(...stale.dats.splice(0));
      return found;
    },
  };
});

async function batch(root: string): Promise<string[]> {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  await runRescue({ wr: loadWorkRoot(root), mode: 'batch', signal: new AbortController().signal, clock: systemClock, log, print: () => {} });
  return lines.map((l) => (JSON.parse(l) as { msg: string; job?: string }).msg);
}

describe('a rescan whose listing went stale while it awaited', () => {
  it('a file replayed and deleted since it was listed is not queued again (was: a second job ending "already gone")', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'recovery: { idle_exit_ms: 100, scan_interval_ms: 50 }\nperformance: { rate_limit_rps: 0 }\n' });
    const rescue = path.join(root, 'data/rescue');
    const file = writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    expect(await batch(root)).toContain('rescue file enqueued');
    expect(existsSync(file)).toBe(false);
    stale.dats.push({ id: path.relative(rescue, file), file });
    const msgs = await batch(root);
    expect(stale.dats).toEqual([]); // the stale entry was listed
    expect(msgs).not.toContain('rescue file enqueued');
    expect(msgs).not.toContain('rescue file already gone (finished before a restart)');
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 10));
  });

  it('a completed job whose file is there again (an operator copied it back) is replayed again', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'recovery: { idle_exit_ms: 100, scan_interval_ms: 50 }\nperformance: { rate_limit_rps: 0 }\n' });
    const rescue = path.join(root, 'data/rescue');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    await batch(root);
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    expect(await batch(root)).toContain('rescue file enqueued');
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual([...range(0, 10), ...range(0, 10)]);
  });
});
