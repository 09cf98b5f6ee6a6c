import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { compareNs, fileLines, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { decodeRescueLine } from '../../src/rescue/line-format.js';
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

  it('json output and rescue lines are JSON.stringify of the record, byte for byte, whatever the text holds', () => {
    // plain ASCII lines (written without an escaping scan) beside every kind of text that needs one
    const msgs = [Buffer.from('plain text'), Buffer.from('say "hi"'), Buffer.from('back\\slash'), Buffer.from('tab\there'), Buffer.from('größe 日本 🚀'), Buffer.from([0x63, 0x01, 0x64]), Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0x78, 0x7f, 0x27, 0x3c, 0x79])];
    const parts: Buffer[] = [];
    const expected: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 3000; i++) {
      const msg = msgs[i % 200 < 190 ? 0 : i % msgs.length]!; // mostly plain batches, some mixed ones
      parts.push(Buffer.from(`id=${i} level=info msg=`), msg, Buffer.from('\n'));
      expected.push({ n: i, level: 'info', msg: msg.toString('utf8') });
    }
    const root = makeWorkRoot(tmpDir(), {
      engine: 'reconnect: { initial_ms: 5, max_ms: 20, jitter: 0 }\n',
      groups: {
        app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: file_json\n      params: { file: app.json }\n    - name: down\n      connect: rescue_json\n      params:\n        file: down.json\n        stages: [{ healthy: 1000 lines }, { unhealthy: 1500 lines }, { healthy: forever }]\n',
        tagged: 'group:\n  name: tagged\n  rule: ["/app/*"]\n  tags: [\'q:a "quoted" tag\']\n  sinks:\n    - connect: file_json\n      params: { file: tagged.json }\n',
      },
    });
    writeFileSync(path.join(root, 'data/in_dat/input.log'), Buffer.concat(parts));
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const out = (f: string): string[] => fileLines(path.join(root, 'data/out_dat', f));
    expect(out('app.json')).toEqual(expected.map((e) => JSON.stringify(e)));
    expect(out('tagged.json')).toEqual(expected.map((e) => JSON.stringify({ ...e, q: 'a "quoted" tag' })));
    const byN = new Map(expected.map((e) => [e.n, JSON.stringify(e)]));
    const spilled = out('down.json');
    for (const f of rescueFilesIn(path.join(root, 'data/rescue'))) {
      for (const line of readFileSync(f, 'utf8').split('\n').filter(Boolean)) {
        const d = decodeRescueLine(line);
        expect(d.ok).toBe(true);
        if (d.ok) spilled.push(d.entry.json!);
      }
    }
    expect(spilled.length).toBe(expected.length);
    for (const text of spilled) expect(text).toBe(byN.get((JSON.parse(text) as { n: number }).n));
  });
});

