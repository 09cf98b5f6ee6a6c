import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, fileLines, outputNs, rescueFilesIn } from '../helpers/outputs.js';
import { encodeRescueLine } from '../../src/rescue/line-format.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { replayWithKills } from '../helpers/replay-kills.js';
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

describe('kill -9 of wprescue replaying multi-byte text and one line of invalid UTF-8', () => {
  const TEXTS = ['café é', '日本語のテキスト', 'emoji 🚀🎉 and ✓', 'plain ascii'];
  const N = 60_000;
  const DAMAGED = 31_337; // 0-based index of the line whose bytes are mangled
  for (let run = 0; run < 5; run++) {
    const seed = 900 + run;
    it(`run ${run} (seed ${seed}): every other line exactly once (a batch of duplicates per kill), only the damaged line set aside, at its true line number`, async () => {
      const rand = prng(seed);
      const root = makeWorkRoot(tmpDir('wr-utf8crash-'), {
        engine: `performance: { rate_limit_rps: 0, batch_size: ${BATCH} }\nrecovery: { idle_exit_ms: 200, scan_interval_ms: 50 }\nqueue: { fsync: always, snapshot_interval_ms: 200 }\n`,
        groups: { a: 'group:\n  name: a\n  rule: ["/app/*"]\n  sinks:\n    - name: s1\n      connect: file_json\n      params: { file: s1.json }\n' },
      });
      const rescue = path.join(root, 'data/rescue');
      const file = writeRescueFile(rescue, 'a', 's1', T0, 0, []);
      const lines = range(0, N).map((n) => Buffer.from(encodeRescueLine({ id: `src:${n}`, kind: 'record', record: { n, t: TEXTS[n % TEXTS.length]! } })));
      const good = lines[DAMAGED]!.toString();
      const at = good.indexOf('"t":"') + 5;
      lines[DAMAGED] = Buffer.concat([Buffer.from(good.slice(0, at)), Buffer.alloc(3000, 0xff), Buffer.from(good.slice(at))]);
      writeFileSync(file, Buffer.concat(lines));
      const damagedOffset = lines.slice(0, DAMAGED).reduce((a, b) => a + b.length, 0);
      const outFile = path.join(root, 'data/out_dat/s1.json');
      const total = range(0, N).reduce((a, n) => a + (n === DAMAGED ? 0 : Buffer.byteLength(JSON.stringify({ n, t: TEXTS[n % TEXTS.length] })) + 1), 0);
      const kills = await replayWithKills(root, outFile, total, rand);
      expect(rescueFilesIn(rescue)).toEqual([]);
      const out = fileLines(path.join(root, 'data/out_dat/s1.json')).map((l) => JSON.parse(l) as { n: number; t: string });
      for (const r of out) expect(r.t).toBe(TEXTS[r.n % TEXTS.length]);
      const cmp = compareNs(range(0, N).filter((n) => n !== DAMAGED), out.map((r) => r.n));
      expect(cmp.missing).toEqual([]);
      expect(out.some((r) => r.n === DAMAGED)).toBe(false);
      expect(cmp.duplicates).toBeLessThanOrEqual(BATCH * kills);
      const bad = readFileSync(path.join(rescue, 'dead', `${path.relative(rescue, file)}.bad.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; offset: number });
      expect(bad.length).toBeGreaterThanOrEqual(1);
      expect(bad.length).toBeLessThanOrEqual(1 + kills); // copied again only if a kill came before the checkpoint passed it
      for (const b of bad) expect(b).toMatchObject({ line: DAMAGED + 1, offset: damagedOffset });
    });
  }
});
