import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prng } from '../helpers/child.js';
import { compareNs, outputNs, rescueFilesIn } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { replayWithKills } from '../helpers/replay-kills.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

const FILES = 400;
const PER_FILE = 50;
const BATCH = 256;

/**
 * Many small rescue files of one sink replay one after another, each job's steps (DISPATCH, read,
 * write, checkpoint, ACK, deletion in bursts) completing within microseconds of each other: a kill
 * at any of them must lose nothing, repeat at most one batch, and leave no file behind.
 */
describe('kill -9 of wprescue over many small rescue files, restarted until done', () => {
  for (let run = 0; run < 6; run++) {
    const seed = 1300 + run;
    const fsync = run % 2 ? 'always' : 'batch';
    it(`run ${run} (seed ${seed}, queue fsync ${fsync}): every line delivered in file order, duplicates at most one batch per kill, no file left`, async () => {
      const rand = prng(seed);
      const root = makeWorkRoot(tmpDir('wr-smallcrash-'), {
        engine: `performance: { rate_limit_rps: 0, batch_size: ${BATCH} }\nrecovery: { idle_exit_ms: 200, scan_interval_ms: 50 }\nqueue: { fsync: ${fsync}, snapshot_interval_ms: 200 }\n`,
        groups: { a: 'group:\n  name: a\n  rule: ["/app/*"]\n  sinks:\n    - name: s1\n      connect: file_json\n      params: { file: s1.json }\n' },
      });
      const rescue = path.join(root, 'data/rescue');
      for (let f = 0; f < FILES; f++) writeRescueFile(rescue, 'a', 's1', T0, f, range(f * PER_FILE, (f + 1) * PER_FILE));
      const outFile = path.join(root, 'data/out_dat/s1.json');
      const total = FILES * PER_FILE * Buffer.byteLength(`${JSON.stringify({ n: 10_000 })}\n`);
      const kills = await replayWithKills(root, outFile, total, rand);
      expect(rescueFilesIn(rescue)).toEqual([]);
      const got = outputNs(outFile);
      const cmp = compareNs(range(0, FILES * PER_FILE), got);
      expect(cmp.missing).toEqual([]);
      // a kill repeats at most the batch written but not yet checkpointed (here: at most one file)
      expect(cmp.duplicates).toBeLessThanOrEqual(Math.min(BATCH, PER_FILE) * kills);
      // a sink's files replay strictly in order: the first sighting of each line is ascending
      const seen = new Set<number>();
      const firsts = got.filter((n) => !seen.has(n) && seen.add(n));
      expect(firsts).toEqual(range(0, FILES * PER_FILE));
    });
  }
});
