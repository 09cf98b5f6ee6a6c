import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 200_000;
const BATCH = 512;
const expectedNs = (): Set<number> => new Set([...Array(N).keys()].filter((i) => i % 11 !== 10));

/** Starts `wparse daemon`, SIGKILLs it after `ms`, then finishes the input with `wparse batch`. */
async function killThenFinish(root: string, ms: number): Promise<void> {
  const d = startNode(bin('wparse'), ['daemon', '-w', root]);
  await new Promise((r) => setTimeout(r, ms)); // the crash moment is what is random here
  d.child.kill('SIGKILL');
  const { signal } = await d.exit;
  expect(signal).toBe('SIGKILL');
}

describe('kill -9 of wparse', () => {
  for (let run = 0; run < 4; run++) {
    const seed = 7 + run;
    const durability = run % 2 ? 'fsync' : 'batch';
    it(`daemon killed mid-file (seed ${seed}, durability ${durability}): restart loses no line and repeats at most one batch`, async () => {
      const root = makeWorkRoot(tmpDir('wr-pcrash-'), { input: makeInput(N), engine: `rescue: { durability: ${durability} }\n` });
      await killThenFinish(root, 100 + Math.floor(prng(seed)() * 400));
      const r = cli('wparse', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
      const { missing, duplicates } = compareNs(expectedNs(), outputNs(path.join(root, 'data/out_dat/app.json')));
      expect(missing).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(BATCH);
    });
  }

  for (let run = 0; run < 10; run++) {
    const seed = 100 + run;
    it(`killed during an outage (seed ${seed}): output + rescue hold every line, the .dat.lock is left whole but for a torn tail`, async () => {
      const root = makeWorkRoot(tmpDir('wr-ocrash-'), {
        input: makeInput(N),
        engine: 'rescue: { durability: fsync }\nreconnect: { initial_ms: 50, max_ms: 50, jitter: 0 }\n',
        groups: {
          app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params:\n        file: app.json\n        stages: [{ healthy: 3000 lines }, { unhealthy: forever }]\n',
        },
      });
      await killThenFinish(root, 150 + Math.floor(prng(seed)() * 400));
      const locks = rescueFilesIn(path.join(root, 'data/rescue')).filter((f) => f.endsWith('.lock'));
      expect(locks.length).toBeLessThanOrEqual(1);
      for (const f of locks) {
        // every complete line parses (rescueNs throws otherwise); only the last may be torn
        const text = readFileSync(f, 'utf8');
        expect(text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).every((l) => l.startsWith('{"version":3,'))).toBe(true);
      }
      const r = cli('wparse', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
      const all = [...outputNs(path.join(root, 'data/out_dat/app.json')), ...rescueNs(path.join(root, 'data/rescue'))];
      const { missing, duplicates } = compareNs(expectedNs(), all);
      expect(missing).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(BATCH);
    });
  }
});
