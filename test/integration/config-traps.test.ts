import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

// Configs that are valid YAML with known keys, yet can never work or quietly lose records.
describe('config traps', () => {
  it('rescue.path that is a file: exit 2 naming the key, from every command (was: wparse paused forever, wprescue INTERNAL)', () => {
    const root = makeWorkRoot(tmpDir(), {
      engine: 'version: 1\nrescue:\n  path: ./data/rescue.txt\n',
      input: makeInput(20),
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{unhealthy: forever}] }\n' },
    });
    writeFileSync(path.join(root, 'data', 'rescue.txt'), 'not a directory\n');
    const runs: Array<['wparse' | 'wprescue' | 'wproj', string[]]> = [
      ['wparse', ['batch']],
      ['wprescue', ['batch']],
      ['wproj', ['rescue', 'stat']],
      ['wproj', ['data', 'clean', '--force']],
      ['wproj', ['check']],
    ];
    for (const [cmd, args] of runs) {
      const r = cli(cmd, [...args, '-w', root]);
      expect(r.code, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/conf\/wparse\.yaml:3:9: rescue\.path: .*rescue\.txt is a file, not a directory/);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    expect(readFileSync(path.join(root, 'data', 'rescue.txt'), 'utf8')).toBe('not a directory\n');
    expect(existsSync(path.join(root, 'data', 'out_dat', 'app.json'))).toBe(false);
  });

  it('a group named dead, . or ..: exit 2 naming the key (was: its rescue files sat in dead/, at the root or outside rescue.path, never replayed)', () => {
    for (const name of ['dead', '.', '..', 'recover.lock']) {
      const root = makeWorkRoot(tmpDir(), {
        input: makeInput(20),
        groups: { app: `group:\n  name: "${name}"\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{unhealthy: forever}] }\n` },
      });
      for (const cmd of ['wparse', 'wprescue'] as const) {
        const r = cli(cmd, ['batch', '-w', root]);
        expect(r.code, `${name} ${cmd}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain(`sink/business.d/app.yaml:2:9: group.name: group name ${JSON.stringify(name)} is reserved`);
      }
      expect(existsSync(path.join(root, 'data', 'rescue'))).toBe(false);
    }
  });

  it('a sink named . or .. or holding ..: exit 2 naming the key (was: the first outage ended wparse with exit 3, internal error)', () => {
    for (const name of ['.', '..', 'a..b']) {
      const root = makeWorkRoot(tmpDir(), {
        input: makeInput(20),
        groups: { app: `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: "${name}"\n      connect: rescue_json\n      params: { file: app.json, stages: [{unhealthy: forever}] }\n` },
      });
      const r = cli('wparse', ['batch', '-w', root]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`sink/business.d/app.yaml:5:7: group.sinks[0].name: sink name ${JSON.stringify(name)} cannot name a rescue file`);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(existsSync(path.join(root, 'data', 'rescue'))).toBe(false);
    }
  });

  it('queue.dir under a file: exit 2 naming the key and the file in the way', () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'version: 1\nqueue: { dir: ./data/state/queue }\n' });
    writeFileSync(path.join(root, 'data', 'state'), '');
    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/conf\/wparse\.yaml:2:15: queue\.dir: .*queue lies under .*data\/state, a file, not a directory/);
  });

  it('a group whose rule globs match no rule: check warns (exit 0); wparse still runs', () => {
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(22),
      groups: { app: 'group:\n  name: app\n  rule: ["/ap/*"]\n  sinks:\n    - name: main\n      connect: file_json\n      params: { file: app.json }\n' },
    });
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^warning: .*business\.d\/app\.yaml: group app: rule glob "\/ap\/\*" matches no rule \(rules: \/app\/kv, \/app\/json\)$/m);
    expect(r.stdout).toMatch(/^check: OK \(.*, 1 warning\(s\)\)$/m);
    // the default group takes what no business group does, so nothing is dropped and no second warning
    expect(r.stdout).not.toMatch(/dropped/);
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0);
  });

  it('rules no group takes, without a default group: check warns that their records are dropped', () => {
    const miss = 'group:\n  name: miss\n  sinks:\n    - connect: file_json\n      params: { file: miss.json }\n';
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(22),
      groups: { app: 'group:\n  name: app\n  rule: ["/app/kv"]\n  sinks:\n    - name: main\n      connect: file_json\n      params: { file: app.json }\n' },
      infra: { miss },
    });
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^warning: records of rule\(s\) \/app\/json go to no group and are dropped: .*no default group/m);
    expect(r.stdout).not.toMatch(/matches no rule/);
    // what the warning foretells: the JSON lines (every 7th, 3 of 22) are unrouted
    const p = cli('wparse', ['batch', '-w', root]);
    expect(p.stdout).toMatch(/, 3 unrouted/);
  });

  it('a clean config has no warning', () => {
    const r = cli('wproj', ['check', '-w', makeWorkRoot(tmpDir())]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/warning/);
  });

  it('a connector of an unknown type is one problem, not one more per sink that uses it', () => {
    const root = makeWorkRoot(tmpDir(), { connectors: 'connectors:\n  - id: file_json\n    type: flie\n    params: { file: out.json }\n' });
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code).toBe(2);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/connectors\.d\/00\.yaml:3:11: connectors\[0\]\.type: unknown sink type "flie"/)]);
  });

  it('wproj init where it cannot write: one line and an exit code, never an internal error or a hang', () => {
    const file = path.join(tmpDir(), 'a-file');
    writeFileSync(file, '');
    const underFile = cli('wproj', ['init', '-w', path.join(file, 'root')]);
    expect(underFile.code).toBe(2);
    expect(underFile.stderr).toBe(`wproj: cannot write the work root: ${file} is a file, not a directory\n`);
    // Node's recursive mkdirSync never returns here (it loops on ENOENT under /proc)
    const proc = cli('wproj', ['init', '--demo', '-w', '/proc/no-such-dir/root']);
    expect(proc.code).toBe(3);
    expect(proc.stderr).toBe('wproj: cannot write the work root /proc/no-such-dir/root: ENOENT (/proc/no-such-dir)\n');
  });

  it('an empty --metrics-listen is off, like an empty metrics.<cmd>.listen; a malformed one is exit 2', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(11) });
    const off = cli('wparse', ['batch', '--metrics-listen', '', '-w', root]);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/^wparse: done: 11 lines/m);
    const bad = cli('wprescue', ['batch', '--metrics-listen', 'nonsense', '-w', root]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--metrics-listen: expected host:port/);
  });

  it('wproj init under a path with spaces and a quote: the printed `next:` line pastes into a shell as is', () => {
    const dir = path.join(realpathSync(tmpDir()), "my work root's dir");
    mkdirSync(dir);
    const r = cli('wproj', ['init', '-w', dir]);
    expect(r.code, r.stderr).toBe(0);
    const next = /^next: (cd .*?) && wpgen/m.exec(r.stdout)?.[1];
    expect(next, r.stdout).toBeDefined();
    const sh = spawnSync('bash', ['-c', `${next} && pwd`], { encoding: 'utf8' });
    expect(sh.status, sh.stderr).toBe(0);
    expect(sh.stdout.trim()).toBe(dir);
  });
});
