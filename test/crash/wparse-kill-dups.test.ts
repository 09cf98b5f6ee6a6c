import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoints } from '../../src/pipeline/source-checkpoint.js';
import { bin } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 300_000;
const BATCH = 512;
const FLUSH_MS = 100;
const expectedNs = (): Set<number> => new Set([...Array(N).keys()].filter((i) => i % 11 !== 10));

/**
 * The README's bound for `durability: batch`: a kill -9 repeats at most the input read in one
 * `flush_ms` window (plus the batch in hand). Measured in the run itself: the rescue file's size is
 * sampled until the kill, and the bound is the most lines that reached it in any span of
 * `flush_ms` (widened by the sampling gap), up to the end of the killed file.
 */
function oneWindowOfInput(samples: Array<{ t: number; size: number }>, text: string): { lines: number; gap: number } {
  const nl = new Int32Array(text.length + 1);
  for (let i = 0; i < text.length; i++) nl[i + 1] = nl[i]! + (text.charCodeAt(i) === 10 ? 1 : 0);
  const linesAt = (size: number): number => nl[Math.min(size, text.length)]!;
  let gap = 0;
  for (let j = 1; j < samples.length; j++) gap = Math.max(gap, samples[j]!.t - samples[j - 1]!.t);
  let lines = 0;
  for (let j = 0, i = 0; j < samples.length; j++) {
    while (samples[j]!.t - samples[i]!.t > FLUSH_MS + gap) i++;
    lines = Math.max(lines, linesAt(samples[j]!.size) - linesAt(samples[i]!.size));
  }
  return { lines, gap };
}

describe('kill -9 of wparse with durability batch during an outage', () => {
  const seeds = Array.from({ length: 10 }, (_, i) => 300 + i);
  it(`10 kills at random points of the input (seeds ${seeds[0]}..${seeds.at(-1)}): nothing lost, repeats within one flush_ms window of input`, async () => {
    const report: string[] = [];
    for (const seed of seeds) {
      const root = makeWorkRoot(tmpDir('wr-kdup-'), {
        input: makeInput(N),
        engine: `rescue: { durability: batch, flush_ms: ${FLUSH_MS} }\n`,
        groups: {
          app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params:\n        file: app.json\n        stages: [{ unhealthy: forever }]\n',
        },
      });
      const rescueDir = path.join(root, 'data/rescue');
      const inputSize = statSync(path.join(root, 'data/in_dat/input.log')).size;
      // about 105 bytes per rescue line, 10/11 of the lines routed to app: kill between 10% and 60% of
      // it, so a stalled test process still kills before the end of the input
      const killAt = Math.floor((0.1 + prng(seed)() * 0.5) * N * (10 / 11) * 105);
      const d = startNode(bin('wparse'), ['daemon', '-w', root]);
      const samples: Array<{ t: number; size: number }> = [];
      let lock: string | undefined;
      for (;;) {
        lock ??= rescueFilesIn(path.join(rescueDir, 'app')).find((f) => f.endsWith('.lock'));
        const size = lock ? statSync(lock).size : 0;
        samples.push({ t: performance.now(), size });
        if (size >= killAt) break;
        if (d.child.exitCode !== null) throw new Error(`wparse exited early: ${d.stderr()}`);
        await new Promise((r) => setTimeout(r, 2)); // sampling the file's growth is the point here
      }
      d.child.kill('SIGKILL');
      expect((await d.exit).signal).toBe('SIGKILL');
      const text = readFileSync(lock!, 'utf8');
      samples.push({ t: performance.now(), size: text.length });
      const [ckpt] = decodeCheckpoints(readFileSync(path.join(root, 'data/.run/sources/src.ckpt'), 'utf8'));
      expect(ckpt?.offset ?? 0).toBeLessThan(inputSize); // the kill landed mid-file (rescue lines were being written)
      const window = oneWindowOfInput(samples, text);

      const fin = startNode(bin('wparse'), ['batch', '-w', root]);
      expect((await fin.exit).code, fin.stderr()).toBe(0);
      const { missing, duplicates } = compareNs(expectedNs(), rescueNs(rescueDir));
      expect(missing).toEqual([]);
      report.push(`seed ${seed}: ${duplicates} repeated, bound ${window.lines + BATCH} (sampling gap ${window.gap.toFixed(0)} ms)`);
      expect(duplicates, report.join('\n')).toBeLessThanOrEqual(window.lines + BATCH);
    }
    console.log(report.join('\n'));
  }, 300_000);
});
