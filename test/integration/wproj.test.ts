import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { validateSinks } from '../../src/proj/validate.js';
import { cli } from '../helpers/cli.js';
import { T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

/**
 * A work root whose business group `g` has the given sinks (name → expect YAML or '' for none),
 * each sink writing `<name>.out`, with `lines[name]` lines in it, and `input` source lines.
 */
function root(opts: { sinks: Record<string, string>; lines: Record<string, number>; input: number; expect?: string }): string {
  const sinks = Object.entries(opts.sinks)
    .map(([name, expect]) => `    - name: ${name}\n      connect: file_json\n      params: { file: ${name}.out }\n${expect ? `      expect: ${expect}\n` : ''}`)
    .join('');
  const dir = makeWorkRoot(tmpDir(), {
    input: 'x\n'.repeat(opts.input),
    groups: { g: `group:\n  name: g\n  rule: ["/app/*"]\n${opts.expect ? `  expect: ${opts.expect}\n` : ''}  sinks:\n${sinks}` },
  });
  mkdirSync(path.join(dir, 'data/out_dat'), { recursive: true });
  for (const [name, n] of Object.entries(opts.lines)) writeFileSync(path.join(dir, 'data/out_dat', `${name}.out`), 'l\n'.repeat(n));
  return dir;
}

const verdicts = (dir: string, inputCnt?: number) => {
  const rep = validateSinks(loadWorkRoot(dir), inputCnt);
  return { verdict: rep.verdict, sinks: Object.fromEntries(rep.sinks.filter((s) => s.group === 'g').map((s) => [s.sink, s.verdict])), issues: rep.issues.map((i) => `${i.severity} ${i.sink ?? i.group}: ${i.msg}`) };
};

describe('wproj validate sink-file', () => {
  it('ratio±tol: inside (boundary included) passes, outside fails', () => {
    const d = root({ sinks: { a: '{ ratio: 0.5, tol: 0.1 }', b: '{ ratio: 0.3, tol: 0.05 }' }, lines: { a: 600, b: 249 }, input: 1000 });
    expect(verdicts(d)).toMatchObject({ verdict: 'FAIL', sinks: { a: 'OK', b: 'Out of range' } });
    expect(verdicts(d).issues).toEqual(['ERROR b: ratio out of range: actual=0.249, expect=0.3±0.05 (lines=249, denom=1000)']);
    const ok = root({ sinks: { a: '{ ratio: 0.5, tol: 0.1 }' }, lines: { a: 400 }, input: 1000 });
    expect(verdicts(ok)).toMatchObject({ verdict: 'PASS', sinks: { a: 'OK' } });
  });

  it('[min, max]: inside passes, outside fails', () => {
    expect(verdicts(root({ sinks: { a: '{ min: 0.1, max: 0.2 }' }, lines: { a: 150 }, input: 1000 }))).toMatchObject({ verdict: 'PASS' });
    const bad = verdicts(root({ sinks: { a: '{ min: 0.1, max: 0.2 }' }, lines: { a: 201 }, input: 1000 }));
    expect(bad).toMatchObject({ verdict: 'FAIL', sinks: { a: 'Out of range' } });
    expect(bad.issues[0]).toMatch(/ratio not in \[0\.1, 0\.2\]: actual=0\.201/);
  });

  it('a group below min_samples is ignored with a warning, never a failure', () => {
    const d = root({ sinks: { a: '{ ratio: 0.9, tol: 0.01 }' }, lines: { a: 1 }, input: 50, expect: '{ min_samples: 100 }' });
    expect(verdicts(d)).toEqual({ verdict: 'WARN', sinks: { a: 'Ignored' }, issues: ['WARN g: ignored: samples 50 < min_samples 100'] });
    const zero = root({ sinks: { a: '{ ratio: 0.9, tol: 0.01 }' }, lines: {}, input: 0 });
    expect(verdicts(zero).issues).toEqual(['WARN g: ignored: denominator is zero (no samples)']);
  });

  it('others_max bounds the sinks without an expect; sum_tol bounds the sum of the ratio sinks', () => {
    const others = root({ sinks: { a: '{ ratio: 0.5, tol: 0.5 }', free: '' }, lines: { a: 500, free: 200 }, input: 1000, expect: '{ others_max: 0.1 }' });
    expect(verdicts(others).issues).toEqual(['ERROR g: others_max exceeded: sinks without an expect hold 0.2 of 1000 (max 0.1)']);
    expect(verdicts(root({ sinks: { a: '{ ratio: 0.5, tol: 0.5 }', free: '' }, lines: { a: 500, free: 100 }, input: 1000, expect: '{ others_max: 0.1 }' })).verdict).toBe('PASS');
    // each sink within its own tolerance, but together 0.16 over what the expects add up to
    const sum = root({ sinks: { a: '{ ratio: 0.4, tol: 0.1 }', b: '{ ratio: 0.4, tol: 0.1 }' }, lines: { a: 480, b: 480 }, input: 1000, expect: '{ sum_tol: 0.05 }' });
    expect(verdicts(sum)).toMatchObject({ verdict: 'FAIL', sinks: { a: 'OK', b: 'OK' } });
    expect(verdicts(sum).issues).toEqual(['ERROR g: sum_tol exceeded: sinks with a ratio sum to 0.96, expected 0.8±0.05']);
  });

  it('mode sets the severity: error fails, warn warns, ignore says nothing', () => {
    const make = (mode: string) => root({ sinks: { a: '{ ratio: 0.5, tol: 0.01 }' }, lines: { a: 100 }, input: 1000, expect: `{ mode: ${mode} }` });
    expect(verdicts(make('error')).verdict).toBe('FAIL');
    expect(verdicts(make('warn'))).toMatchObject({ verdict: 'WARN', issues: [expect.stringMatching(/^WARN a: ratio out of range/)] });
    expect(verdicts(make('ignore'))).toMatchObject({ verdict: 'PASS', issues: [] });
  });

  it('basis group_input divides by the group total; --input-cnt overrides the source count', () => {
    const d = root({ sinks: { a: '{ ratio: 0.75, tol: 0.01 }', b: '{ ratio: 0.25, tol: 0.01 }' }, lines: { a: 300, b: 100 }, input: 1000, expect: '{ basis: group_input }' });
    expect(verdicts(d).verdict).toBe('PASS');
    const t = root({ sinks: { a: '{ ratio: 0.5, tol: 0.01 }' }, lines: { a: 200 }, input: 1000 });
    expect(verdicts(t).verdict).toBe('FAIL');
    expect(verdicts(t, 400).verdict).toBe('PASS');
  });

  it('exit 0 on PASS and WARN, 1 on FAIL, 2 on a config error; -v lists sinks without an expect; --json', () => {
    const pass = root({ sinks: { a: '{ ratio: 0.5, tol: 0.1 }', free: '' }, lines: { a: 500 }, input: 1000 });
    const r = cli('wproj', ['validate', 'sink-file', '-w', pass]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('validate: PASS');
    expect(r.stdout).not.toMatch(/g\/free/);
    expect(cli('wproj', ['validate', 'sink-file', '-v', '-w', pass]).stdout).toMatch(/\| g\/free +\| 0 +\| - +\| 0\/1000 +\| - +\|/);
    const warn = root({ sinks: { a: '{ ratio: 0.5, tol: 0.01 }' }, lines: { a: 1 }, input: 1000, expect: '{ mode: warn }' });
    const w = cli('wproj', ['validate', 'sink-file', '-w', warn]);
    expect([w.code, w.stdout.split('\n')[0]]).toEqual([0, 'validate: WARN (1 warnings)']);
    const fail = root({ sinks: { a: '{ ratio: 0.5, tol: 0.01 }' }, lines: { a: 1 }, input: 1000 });
    const f = cli('wproj', ['validate', 'sink-file', '--json', '-w', fail]);
    expect(f.code).toBe(1);
    // `wproj validate` alone is `validate sink-file`, as `wproj stat` is `stat file`
    const bare = cli('wproj', ['validate', '--json', '-w', fail]);
    expect([bare.code, bare.stdout]).toEqual([1, f.stdout]);
    // and `wproj validate --help` says which flags that takes (it listed only the subcommand)
    expect(cli('wproj', ['validate', '--help']).stdout).toContain('(-w DIR, -v, --input-cnt N, --json) may be given here too');
    expect(cli('wproj', ['stat', '--help']).stdout).toContain('runs `wproj stat file`, whose options (-w DIR, --json)');
    expect(JSON.parse(f.stdout)).toMatchObject({ verdict: 'FAIL', pass: false, totalInput: 1000, issues: [{ severity: 'ERROR', group: 'g', sink: 'a' }] });
    writeFileSync(path.join(fail, 'sink/business.d/g.yaml'), 'group:\n  name: g\n  rule: ["/app/*"]\n  sinks:\n    - connect: file_json\n      params: { file: a.out }\n      expect: { ratio: 0.5, min: 0.1 }\n');
    const c = cli('wproj', ['validate', 'sink-file', '-w', fail]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/g\.yaml:7:15: group\.sinks\[0\]\.expect: ratio\/tol cannot be combined with min\/max/);
  });
});

describe('wproj stat and rescue stat', () => {
  it('stat counts lines per source and per file sink; a missing output counts 0', () => {
    const d = root({ sinks: { a: '', b: '' }, lines: { a: 7 }, input: 12 });
    const r = cli('wproj', ['stat', 'file', '--json', '-w', d]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { src: { total: number }; sink: { total: number; items: Array<{ scope: string; group: string; sink: string; lines: number }> } };
    expect(j.src.total).toBe(12);
    expect(j.sink.items.map((i) => [i.scope, `${i.group}/${i.sink}`, i.lines])).toEqual([
      ['business', 'g/a', 7],
      ['business', 'g/b', 0],
      ['infra', 'default/[0]', 0],
      ['infra', 'error/[0]', 0],
      ['infra', 'miss/[0]', 0],
    ]);
    expect(j.sink.total).toBe(7);
    const table = cli('wproj', ['stat', 'sink-file', '-w', d]).stdout;
    expect(table).toMatch(/\| business \| g\/a +\| .*a\.out +\| +7 \|/);
    expect(table).toMatch(/Total lines: 7/);
  });

  it('rescue stat: nested groups by <group>/<sink>, .lock files apart, quarantined counted; table, json and csv', () => {
    const d = makeWorkRoot(tmpDir());
    const rescue = path.join(d, 'data/rescue');
    writeRescueFile(rescue, 'a', 'my-sink', T0, 0, [1, 2, 3]);
    writeRescueFile(rescue, 'a', 'my-sink', T0 + 1000, 1, [4]);
    writeRescueFile(rescue, 'team/b', 'x', T0, 0, [5, 6]);
    writeRescueFile(rescue, 'a', 'my-sink', T0 + 2000, 0, [7, 8], { locked: true });
    writeRescueFile(path.join(rescue, 'dead'), 'a', 'gone', T0, 0, [9]);
    const j = JSON.parse(cli('wproj', ['rescue', 'stat', '--json', '--detail', '-w', d]).stdout) as {
      totalFiles: number; totalLines: number; bySink: Record<string, { files: number; lines: number }>; locked: Array<{ sink: string; lines: number }>; dead: number; files: unknown[];
    };
    expect(j.totalFiles).toBe(3);
    expect(j.totalLines).toBe(6);
    expect(Object.fromEntries(Object.entries(j.bySink).map(([k, v]) => [k, [v.files, v.lines]]))).toEqual({ 'a/my-sink': [2, 4], 'team/b/x': [1, 2] });
    expect(j.locked).toMatchObject([{ sink: 'a/my-sink', lines: 2 }]);
    expect(j.dead).toBe(1);
    expect(j.files).toHaveLength(3);
    const csv = cli('wproj', ['rescue', 'stat', '--csv', '-w', d]).stdout.trim().split('\n');
    expect(csv).toEqual(['sink_name,file_count,line_count,size_bytes', expect.stringMatching(/^a\/my-sink,2,4,\d+$/), expect.stringMatching(/^team\/b\/x,1,2,\d+$/)]);
    const table = cli('wproj', ['rescue', 'stat', '-w', d]).stdout;
    expect(table).toMatch(/files 3, lines 6, bytes \d+, oldest \d+s, quarantined 1/);
    expect(table).toMatch(/being written or awaiting salvage \(\.dat\.lock\)/);
    const empty = cli('wproj', ['rescue', 'stat', '--json', '-w', makeWorkRoot(tmpDir())]);
    expect(JSON.parse(empty.stdout)).toMatchObject({ totalFiles: 0, totalLines: 0, oldestAgeSec: null });
  });
});

describe('wproj init and data clean', () => {
  it('init scaffolds a work root that runs, keeps existing files; data clean removes outputs, rescue, run state and logs but not inputs', () => {
    const d = path.join(tmpDir(), 'fresh');
    const init = cli('wproj', ['init', '-w', d]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/file\(s\) created, 0 kept/);
    expect(cli('wproj', ['check', '-w', d]).stdout).toMatch(/^check: OK/);
    expect(cli('wpgen', ['sample', '-n', '300', '-w', d]).code).toBe(0);
    const run = cli('wparse', ['batch', '-w', d]);
    expect(run.code, run.stderr).toBe(0);
    const stat = JSON.parse(cli('wproj', ['stat', 'file', '--json', '-w', d]).stdout) as { src: { total: number }; sink: { total: number } };
    expect(stat.src.total).toBe(300);
    expect(stat.sink.total).toBeGreaterThan(0);
    expect(cli('wproj', ['init', '-w', d]).stdout).toMatch(/0 file\(s\) created, \d+ kept/);

    const rescued = writeRescueFile(path.join(d, 'data/rescue'), 'app', 'all', T0, 0, [1]);
    const refused = cli('wproj', ['data', 'clean', '-w', d]);
    expect(refused.code).toBe(2); // unreplayed rescue data: nothing goes without --force
    expect(refused.stderr).toMatch(/refusing to clean: 1 rescue file\(s\) \(1 lines\).*--force/);
    const dry = cli('wproj', ['data', 'clean', '--dry-run', '-w', d]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would remove ${path.join(d, 'data/rescue')}`);
    expect(dry.stdout).toMatch(/unreplayed rescue data: 1 rescue file/);
    expect(existsSync(rescued)).toBe(true);
    expect(readdirSync(path.join(d, 'data/out_dat')).length).toBeGreaterThan(0);
    const clean = cli('wproj', ['data', 'clean', '--force', '-w', d]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(readdirSync(path.join(d, 'data/out_dat'))).toEqual([]);
    expect(readdirSync(path.join(d, 'data/rescue'))).toEqual([]); // the lock and pid file too
    expect(existsSync(path.join(d, 'data/.run/queue'))).toBe(false);
    expect(existsSync(path.join(d, 'data/logs/wparse.log'))).toBe(false);
    expect(existsSync(path.join(d, 'data/in_dat/gen.dat'))).toBe(true);
    expect(cli('wproj', ['data', 'clean', '-w', d]).code).toBe(0); // nothing waits: no --force needed
  });

  it('init writes a small commented starting point that validates; init --demo writes the demo', () => {
    const d = path.join(tmpDir(), 'starter');
    expect(cli('wproj', ['init', '-w', d]).code).toBe(0);
    expect(readFileSync(path.join(d, 'conf/wparse.yaml'), 'utf8')).toMatch(/^# Engine settings/);
    expect(readdirSync(path.join(d, 'sink/business.d'))).toEqual(['app.yaml']);
    expect(cli('wpgen', ['sample', '-n', '100', '-w', d]).code).toBe(0);
    const run = cli('wparse', ['batch', '-w', d]);
    expect(run.stdout).toMatch(/100 lines .* 20 miss, 0 unrouted/);
    expect(run.stdout).toMatch(/\| app\/errors +\| +20 \|/); // the filter { field: level, equals: error }
    const v = cli('wproj', ['validate', 'sink-file', '-w', d]);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/^validate: PASS/);
    const demo = path.join(tmpDir(), 'demo');
    expect(cli('wproj', ['init', '--demo', '-w', demo]).code).toBe(0);
    expect(readdirSync(path.join(demo, 'sink/business.d')).sort()).toEqual(['benchmark.yaml', 'example.yaml']);
    expect(cli('wproj', ['check', '-w', demo]).code).toBe(0);
  });
});
