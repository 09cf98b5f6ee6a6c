import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

interface Case {
  name: string;
  file: string;
  text: string;
  expect: RegExp;
  extra?: Record<string, string>;
}

const cases: Case[] = [
  { name: 'unknown key in wparse.yaml', file: 'conf/wparse.yaml', text: 'version: 1\nrescue:\n  pathh: ./x\n', expect: /conf\/wparse\.yaml:3:3: rescue\.pathh: unknown key/ },
  { name: 'wrong type', file: 'conf/wparse.yaml', text: 'performance:\n  batch_size: lots\n', expect: /conf\/wparse\.yaml:2:15: performance\.batch_size: expected an integer/ },
  { name: 'bad YAML', file: 'conf/wparse.yaml', text: 'rescue: [\n', expect: /conf\/wparse\.yaml:\d+:\d+: invalid YAML/ },
  { name: 'unquoted {cmd} in a flow map', file: 'conf/wparse.yaml', text: 'log: { level: info, file: ./data/logs/{cmd}.log }\n', expect: /conf\/wparse\.yaml:1:\d+: invalid YAML .*must be quoted/ },
  { name: 'bad enum', file: 'conf/wparse.yaml', text: 'rescue:\n  durability: sometimes\n', expect: /2:15: rescue\.durability: expected one of fsync \| batch \| none/ },
  { name: 'unknown connector', file: 'sink/business.d/app.yaml', text: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - connect: nope\n', expect: /sink\/business\.d\/app\.yaml:5:16: group\.sinks\[0\]\.connect: unknown connector "nope"/ },
  { name: 'override not in allow_override', file: 'sink/business.d/app.yaml', text: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - connect: tcp_json\n      params: { fmt: kv }\n', expect: /6:17: group\.sinks\[0\]\.params\.fmt: connector tcp_json does not allow overriding "fmt"/ },
  { name: 'duplicate group name', file: 'sink/business.d/other.yaml', text: 'group:\n  name: app\n  rule: ["/x"]\n  sinks:\n    - connect: file_json\n', expect: /other\.yaml:2:9: group\.name: group "app" is already defined/ },
  { name: 'invalid rule regex', file: 'models/rules/app.yaml', text: 'rules:\n  - name: /x\n    regex: "(unclosed"\n', expect: /app\.yaml:3:12: rules\[0\]\.regex: invalid regular expression/ },
  { name: 'a rule regex without a named group', file: 'models/rules/app.yaml', text: 'rules:\n  - name: /x\n    regex: "^(\\\\d+)$"\n', expect: /app\.yaml:3:12: rules\[0\]\.regex: the regex has no named group/ },
  { name: 'a rule type for a group the regex lacks', file: 'models/rules/app.yaml', text: "rules:\n  - name: /x\n    regex: '^(?<n>\\d+)$'\n    types: { m: int }\n", expect: /app\.yaml:4:17: rules\[0\]\.types\.m: "m" is not a named group of the regex \(groups: n\)/ },
  // a file whose top level is not a map was an internal error (exit 3), not a config error
  { name: 'wparse.yaml as a list', file: 'conf/wparse.yaml', text: '- rescue\n', expect: /conf\/wparse\.yaml:1:1: expected a map, got a list/ },
  { name: 'a rules file as a scalar', file: 'models/rules/app.yaml', text: 'just words\n', expect: /models\/rules\/app\.yaml:1:1: expected a map, got string "just words"/ },
  { name: 'a group file as a list', file: 'sink/business.d/app.yaml', text: '- name: app\n', expect: /sink\/business\.d\/app\.yaml:1:1: expected a map, got a list/ },
  { name: 'a connectors file as a list', file: 'sink/connectors.d/00.yaml', text: '- id: x\n', expect: /sink\/connectors\.d\/00\.yaml:1:1: expected a map, got a list/ },
  { name: 'a bare source list keeps its positions', file: 'conf/wpsrc.yaml', text: '- key: src\n  params: { path: x, pth: y }\n', expect: /conf\/wpsrc\.yaml:2:22: \[0\]\.params\.pth: unknown key/ },
  {
    name: 'missing required param',
    file: 'sink/business.d/app.yaml',
    text: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - connect: bare\n',
    extra: { 'sink/connectors.d/01.yaml': 'connectors:\n  - id: bare\n    type: file\n' },
    expect: /app\.yaml:5:7: group\.sinks\[0\]\.params\.file: missing required param of file/,
  },
];

describe('config errors: one line naming file:line:col and key, exit 2, before anything runs', () => {
  for (const c of cases) {
    it(c.name, () => {
      const root = makeWorkRoot(tmpDir());
      writeFileSync(path.join(root, c.file), c.text);
      for (const [f, t] of Object.entries(c.extra ?? {})) writeFileSync(path.join(root, f), t);
      for (const [cmd, args] of [['wparse', ['batch']], ['wprescue', ['batch']]] as const) {
        const r = cli(cmd, [...args, '-w', root]);
        expect(r.code, r.stderr).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(c.expect);
        expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
      }
    });
  }

  it('wproj check lists every problem, not only the first', () => {
    const root = makeWorkRoot(tmpDir());
    writeFileSync(path.join(root, 'conf/wparse.yaml'), 'rescue:\n  pathh: x\nqueue:\n  fsync: maybe\n');
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/2:3: rescue\.pathh: unknown key/);
    expect(r.stdout + r.stderr).toMatch(/4:10: queue\.fsync: expected one of always \| batch \| none/);
  });

  it('wpsrc.yaml may be a bare list of sources (SPEC section 2: "a list of sources")', () => {
    const root = makeWorkRoot(tmpDir(), { input: 'id=1 level=info msg=a\nid=2 level=warn msg=b\n' });
    writeFileSync(path.join(root, 'conf/wpsrc.yaml'), '- key: src\n  enable: true\n  type: file\n  params: { path: ./data/in_dat/input.log }\n');
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wparse: done: 2 lines/);
    expect(JSON.parse(cli('wproj', ['stat', 'src-file', '--json', '-w', root]).stdout)).toMatchObject({ total: 2, items: [{ key: 'src', lines: 2 }] });
  });

  it('a missing work root, a bad flag and --help', () => {
    expect(cli('wparse', ['batch', '-w', '/nonexistent/x']).code).toBe(2);
    const bad = cli('wprescue', ['batch', '--rate', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rate takes a whole number/);
    const help = cli('wprescue', ['batch', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--rate <n>/);
  });

  it('status on an empty or missing queue dir works', () => {
    const root = makeWorkRoot(tmpDir());
    const r = cli('wprescue', ['status', '--json', '-w', root]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ counts: { pending: 0, in_flight: 0, completed: 0, dead: 0 } });
  });
});
