import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { compareNs, fileLines, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const RULES = `rules:
  - name: /app/kv
    regex: '^id=(?<n>\\d+) level=(?<level>\\w+) msg=(?<msg>.*)$'
    types: { n: int }
  - name: /app/json
    json: true
  - name: /misc/num
    regex: '^(?<num>\\d+)$'
`;

describe('wparse batch', () => {
  it('accounts for every input line exactly once per group it belongs to', () => {
    const lines: string[] = [];
    for (let i = 0; i < 6000; i++) lines.push(i % 13 === 12 ? String(i) : makeInput(1, i).trimEnd());
    const root = makeWorkRoot(tmpDir(), {
      input: `${lines.join('\n')}\n`,
      rules: RULES,
      groups: {
        kv: 'group:\n  name: kv\n  rule: ["/app/kv"]\n  tags: ["env:test"]\n  sinks:\n    - name: all\n      connect: file_json\n      params: { file: kv.json }\n    - name: warn-only\n      connect: file_json\n      params: { file: warn.json }\n      filter: { field: level, equals: warn }\n',
        js: 'group:\n  name: js\n  rule: ["/app/j*"]\n  sinks:\n    - connect: file_json\n      params: { file: js.json }\n',
      },
    });
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const out = (f: string): string[] => fileLines(path.join(root, 'data/out_dat', f));
    const kvIn = lines.filter((l) => l.startsWith('id='));
    const jsonIn = lines.filter((l) => l.startsWith('{'));
    const numIn = lines.filter((l) => /^\d+$/.test(l));
    const missIn = lines.filter((l) => l.startsWith('garbage'));
    expect(out('kv.json')).toHaveLength(kvIn.length);
    expect(out('warn.json')).toHaveLength(kvIn.filter((l) => l.includes('level=warn')).length);
    expect(out('js.json')).toHaveLength(jsonIn.length);
    expect(out('default.json')).toHaveLength(numIn.length);
    expect(out('miss.json')).toEqual(missIn); // raw, exactly as read
    expect(kvIn.length + jsonIn.length + numIn.length + missIn.length).toBe(lines.length);
    expect(JSON.parse(out('kv.json')[0]!)).toEqual({ n: 0, level: 'warn', msg: 'hello, world 0', env: 'test' });
  });

  it('with a test_rescue outage on 100k lines: sink output plus rescue equals the input for that sink, by id', () => {
    const N = 100_000;
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(N),
      engine: 'reconnect: { initial_ms: 5, max_ms: 20, jitter: 0 }\nrescue: { durability: batch, flush_ms: 20 }\n',
      groups: {
        app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params:\n        file: app.json\n        stages: [{ healthy: 20000 lines }, { unhealthy: 30000 lines }, { healthy: forever }]\n',
      },
    });
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const expected = new Set<number>();
    for (let i = 0; i < N; i++) if (i % 11 !== 10) expected.add(i);
    const delivered = outputNs(path.join(root, 'data/out_dat/app.json'));
    const rescued = rescueNs(path.join(root, 'data/rescue'));
    expect(delivered.length).toBeGreaterThanOrEqual(20_000);
    expect(rescued.length).toBeGreaterThanOrEqual(30_000);
    expect(compareNs(expected, [...delivered, ...rescued])).toEqual({ missing: [], duplicates: 0 });
    const files = rescueFilesIn(path.join(root, 'data/rescue'));
    expect(files.every((f) => f.endsWith('.dat'))).toBe(true); // released at the end of the batch
    expect(files.length).toBeGreaterThanOrEqual(1);
  });

  it('-n stops after exactly MAX_LINES and the checkpoint resumes after them', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(3000) });
    expect(cli('wparse', ['batch', '-n', '1000', '-w', root]).code).toBe(0);
    const first = fileLines(path.join(root, 'data/out_dat/app.json')).length + fileLines(path.join(root, 'data/out_dat/miss.json')).length;
    expect(first).toBe(1000);
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0);
    const ns = outputNs(path.join(root, 'data/out_dat/app.json'));
    expect(compareNs(new Set([...Array(3000).keys()].filter((i) => i % 11 !== 10)), ns)).toEqual({ missing: [], duplicates: 0 });
  });
});
