import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, fileLines, outputNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 60_000;

/**
 * Two sources feed one sink that rejects some records (to `error`) and fails over now and then (to
 * rescue). Rejections travel with the batch that produced them, so neither source can commit past
 * a record whose error write is not durable: after kill -9 at random moments, a restart and a
 * replay, every input line is in its sink, in `error` or in `miss`. Never nowhere.
 */
describe('kill -9 of wparse with two sources and a rejecting sink', () => {
  for (let run = 0; run < 4; run++) {
    const seed = 900 + run;
    it(`seed ${seed}: every line ends in its sink, error or miss`, async () => {
      const rand = prng(seed);
      const root = makeWorkRoot(tmpDir('wr-reject-'), {
        input: makeInput(N),
        engine: `rescue: { durability: ${run % 2 ? 'fsync' : 'batch'} }\nreconnect: { initial_ms: 20, max_ms: 20, jitter: 0 }\nperformance: { rate_limit_rps: 0 }\nrecovery: { idle_exit_ms: 200, scan_interval_ms: 50 }\n`,
        groups: {
          app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params:\n        file: app.json\n        repeat: true\n        stages: [{ healthy: 5000 lines }, { unhealthy: 30ms }]\n',
        },
        connectors: `connectors:
  - id: file_json
    type: file
    params: { base: ./data/out_dat, file: out.json, fmt: json }
    allow_override: [file]
  - id: rescue_json
    type: test_rescue
    params: { base: ./data/out_dat, file: out.json, fmt: json, reject: '"n":\\\\d*[05],' }
    allow_override: [file, stages, repeat]
`,
      });
      writeFileSync(path.join(root, 'data/in_dat/second.log'), makeInput(N, N));
      writeFileSync(
        path.join(root, 'conf/wpsrc.yaml'),
        'sources:\n  - key: a\n    params: { path: ./data/in_dat/input.log }\n  - key: b\n    params: { path: ./data/in_dat/second.log }\n',
      );
      const out = (f: string): string => path.join(root, 'data/out_dat', f);
      let midFile = 0;
      for (let k = 0; k < 3; k++) {
        const d = startNode(bin('wparse'), ['daemon', '-w', root]);
        await new Promise((r) => setTimeout(r, 200 + rand() * 500)); // the crash moment is what is random here
        d.child.kill('SIGKILL');
        expect((await d.exit).signal).toBe('SIGKILL');
        if (outputNs(out('app.json')).length < (2 * N * 10) / 11 * 0.8) midFile++;
      }
      expect(midFile).toBeGreaterThan(0);
      const finish = cli('wparse', ['batch', '-w', root]);
      expect(finish.code, finish.stderr).toBe(0);
      const replay = cli('wprescue', ['batch', '-w', root]);
      expect(replay.code, replay.stderr).toBe(0);
      const errors = fileLines(out('error.json')).map((l) => JSON.parse(l) as { n: number; _sink: string; _error: string });
      expect(errors.every((e) => e.n % 5 === 0 && e._sink === 'app/main' && e._error.includes('rejected'))).toBe(true);
      const miss = fileLines(out('miss.json')).map((l) => Number(/garbage line (\d+)/.exec(l)![1]));
      const all = [...outputNs(out('app.json')), ...errors.map((e) => e.n), ...miss];
      const { missing } = compareNs([...Array(2 * N).keys()], all);
      expect(missing).toEqual([]);
    });
  }
});
