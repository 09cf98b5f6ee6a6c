import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueFilesIn } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

const RUNS = 20;
const BATCH = 256;

describe('kill -9 of wprescue at random moments, restarted until done', () => {
  for (let run = 0; run < RUNS; run++) {
    const seed = 500 + run;
    it(`run ${run} (seed ${seed}): no line lost, duplicates at most one batch per kill`, async () => {
      const rand = prng(seed);
      const root = makeWorkRoot(tmpDir('wr-rcrash-'), {
        engine: `performance: { rate_limit_rps: 0, batch_size: ${BATCH} }\nrecovery: { idle_exit_ms: 200, scan_interval_ms: 50, workers: 2 }\nqueue: { fsync: always, snapshot_interval_ms: 200 }\n`,
        groups: {
          a: 'group:\n  name: a\n  rule: ["/app/*"]\n  sinks:\n    - name: s1\n      connect: file_json\n      params: { file: s1.json }\n    - name: s-2\n      connect: file_json\n      params: { file: s2.json }\n',
        },
      });
      const rescue = path.join(root, 'data/rescue');
      writeRescueFile(rescue, 'a', 's1', T0, 0, range(0, 40_000));
      writeRescueFile(rescue, 'a', 's1', T0 + 1000, 0, range(40_000, 60_000));
      writeRescueFile(rescue, 'a', 's-2', T0, 0, range(0, 30_000));
      let kills = 0;
      for (let attempt = 0; attempt < 30; attempt++) {
        const c = startNode(bin('wprescue'), ['batch', '-w', root]);
        const killAt = attempt < 3 ? 150 + rand() * 500 : Infinity;
        const timer = Number.isFinite(killAt) ? setTimeout(() => c.child.kill('SIGKILL'), killAt) : undefined;
        const { code, signal } = await c.exit;
        clearTimeout(timer);
        if (signal === 'SIGKILL') {
          kills++;
          continue;
        }
        expect(code, c.stderr()).toBe(0);
        break;
      }
      expect(rescueFilesIn(rescue)).toEqual([]);
      const s1 = compareNs(range(0, 60_000), outputNs(path.join(root, 'data/out_dat/s1.json')));
      const s2 = compareNs(range(0, 30_000), outputNs(path.join(root, 'data/out_dat/s2.json')));
      expect(s1.missing).toEqual([]);
      expect(s2.missing).toEqual([]);
      // each kill can repeat the one batch per sink that was written but not yet checkpointed
      expect(s1.duplicates).toBeLessThanOrEqual(BATCH * kills);
      expect(s2.duplicates).toBeLessThanOrEqual(BATCH * kills);
    });
  }
});
