import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const RUNS: Array<['wparse' | 'wprescue' | 'wproj' | 'wpgen', string[]]> = [
  ['wparse', ['batch']],
  ['wparse', ['daemon']],
  ['wprescue', ['batch']],
  ['wprescue', ['daemon']],
  ['wprescue', ['status']],
  ['wproj', ['check']],
  ['wproj', ['stat', 'file']],
  ['wproj', ['rescue', 'stat']],
  ['wproj', ['data', 'clean']],
  ['wpgen', ['sample', '-n', '1']],
];

describe('work root', () => {
  it('outside a work root every command exits 2 CONFIG_NOT_FOUND naming what is missing, and creates nothing', () => {
    const empty = tmpDir();
    for (const [name, args] of RUNS) {
      const r = cli(name, args, { cwd: empty, env: { WPR_WORK_ROOT: '' } });
      expect(r.code, `${name} ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${name}: CONFIG_NOT_FOUND: ${empty} is not a work root: missing conf/wparse.yaml and conf/wpsrc.yaml`);
    }
    expect(readdirSync(empty)).toEqual([]);

    const half = makeWorkRoot(tmpDir());
    rmSync(path.join(half, 'conf/wpsrc.yaml'));
    const before = readdirSync(path.join(half, 'data')).sort();
    for (const [name, args] of RUNS) {
      const r = cli(name, [...args, '-w', half]);
      expect(r.code, `${name} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(/missing conf\/wpsrc\.yaml \(pass -w DIR or set WPR_WORK_ROOT/);
    }
    expect(readdirSync(path.join(half, 'data')).sort()).toEqual(before);
  });

  it('$WPR_WORK_ROOT is the default for -w; -w wins over it', () => {
    const root = makeWorkRoot(tmpDir());
    const elsewhere = tmpDir();
    const r = cli('wproj', ['check'], { cwd: elsewhere, env: { WPR_WORK_ROOT: root } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^check: OK \(1 source/);
    expect(cli('wproj', ['check', '-w', elsewhere], { env: { WPR_WORK_ROOT: root } }).code).toBe(2);
  });

  it('-w may also stand before the subcommand, on every command', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(5) });
    mkdirSync(path.join(root, 'models/app'));
    writeFileSync(path.join(root, 'models/app/sample.dat'), 'id=1 level=info msg=x\n');
    const elsewhere = tmpDir();
    for (const [name, args] of RUNS.filter(([, a]) => a[0] !== 'daemon')) {
      const r = cli(name, ['-w', root, ...args, ...(name === 'wproj' && args[0] === 'data' ? ['--dry-run'] : [])], { cwd: elsewhere, env: { WPR_WORK_ROOT: '' } });
      expect(r.code, `${name} -w ROOT ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const json = cli('wproj', ['--work-root', root, 'stat', '--json'], { cwd: elsewhere });
    expect(JSON.parse(json.stdout)).toMatchObject({ command: 'wproj stat file', ok: true, src: { total: 5 } });
    expect(cli('wproj', ['-w', elsewhere, 'check']).stderr).toContain(`wproj: CONFIG_NOT_FOUND: ${elsewhere} is not a work root`);
    const err = cli('wproj', [`--work-root=${elsewhere}`, 'rescue', 'stat', '--json']);
    expect([err.code, JSON.parse(err.stdout)]).toMatchObject([2, { command: 'wproj rescue stat', ok: false, error: { code: 'CONFIG_NOT_FOUND' } }]);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

describe('${VAR} substitution', () => {
  it('takes values and defaults from the environment; $${ is a literal ${', () => {
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(20),
      engine: 'rescue:\n  path: "${RESCUE_DIR:-./data/rescue_default}"\n',
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: file_json\n      params: { file: "${OUT_FILE}" }\n    - name: lit\n      connect: file_json\n      params: { file: "lit_$${HOME}.json" }\n' },
    });
    const env = { OUT_FILE: 'from_env.json', RESCUE_DIR: '' };
    const r = cli('wparse', ['batch', '-w', root], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(root, 'data/out_dat/from_env.json'), 'utf8').split('\n').length - 1).toBe(19);
    expect(existsSync(path.join(root, 'data/out_dat/lit_${HOME}.json'))).toBe(true);
    const st = JSON.parse(cli('wproj', ['rescue', 'stat', '--json', '-w', root], { env }).stdout) as { rescuePath: string };
    expect(st.rescuePath).toBe(path.join(root, 'data/rescue_default')); // empty counts as unset for :-
    expect(readdirSync(root).some((n) => n.includes('$'))).toBe(false);
    expect(readdirSync(path.join(root, 'data')).some((n) => n.includes('$'))).toBe(false);
  });

  it('an unset variable without default is a config error naming file, line and variable; later lines keep their numbers', () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'version: 1\nrescue:\n  path: ${NOPE_NOT_SET}\nperformance:\n  batch_size: lots\n' });
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code).toBe(2);
    const file = path.join(root, 'conf/wparse.yaml');
    expect(r.stdout).toContain(`${file}:3:9: environment variable NOPE_NOT_SET is not set`);
    expect(r.stdout).toContain(`${file}:5:15: performance.batch_size: expected an integer`);
    const run = cli('wparse', ['batch', '-w', root]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/wparse\.yaml:3:9: environment variable NOPE_NOT_SET is not set/);
    expect(readdirSync(path.join(root, 'data')).sort()).toEqual(['in_dat']);
  });

  it('a variable set but empty, where a value is required, is named in the problem', () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'version: 1\nrescue:\n  path: ${EMPTY_DIR}\n' });
    const r = cli('wproj', ['check', '-w', root], { env: { EMPTY_DIR: '' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/wparse\.yaml:3:\d+: rescue\.path: .*\(environment variable EMPTY_DIR is empty\)/);
  });
});

describe('metrics addresses', () => {
  it('the old shared metrics.listen, a malformed address and --metrics-listen garbage are exit 2 before anything runs', () => {
    const old = makeWorkRoot(tmpDir(), { engine: 'metrics: { listen: "127.0.0.1:9464" }\n' });
    const c = cli('wproj', ['check', '-w', old]);
    expect(c.code).toBe(2);
    expect(c.stdout).toMatch(/wparse\.yaml:1:20: metrics\.listen: replaced by one address per daemon: metrics: \{ wparse: \{ listen/);
    const bad = makeWorkRoot(tmpDir(), { engine: 'metrics:\n  wparse: { listen: localhost }\n  wprescue: { listen: "127.0.0.1:99999" }\n' });
    const b = cli('wproj', ['check', '-w', bad]);
    expect(b.code).toBe(2);
    expect(b.stdout).toMatch(/:2:21: metrics\.wparse\.listen: expected host:port/);
    expect(b.stdout).toMatch(/:3:23: metrics\.wprescue\.listen: port must be 1\.\.65535, got 99999/);
    expect(cli('wparse', ['batch', '-w', bad]).code).toBe(2);
    const good = makeWorkRoot(tmpDir());
    const flag = cli('wprescue', ['batch', '--metrics-listen', 'nonsense', '-w', good]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--metrics-listen: expected host:port/);
  });

  it('a busy address is a clear exit-2 error, never "internal error"', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const root = makeWorkRoot(tmpDir(), { engine: `metrics:\n  wparse: { listen: "127.0.0.1:${port}" }\n` });
      const r = cli('wparse', ['batch', '-w', root]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`metrics.wparse.listen 127.0.0.1:${port}: cannot listen: address already in use`);
      expect(r.stderr).not.toMatch(/internal error/);
      const f = cli('wprescue', ['batch', '--metrics-listen', `127.0.0.1:${port}`, '-w', root]);
      expect(f.code).toBe(2);
      expect(f.stderr).toContain(`--metrics-listen 127.0.0.1:${port}: cannot listen: address already in use`);
    } finally {
      busy.close();
    }
  });
});

describe('logs', () => {
  it('log.file: /dev/stderr sends the JSON log lines (level words, ISO time) to stderr, for containers', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(10), engine: 'log: { file: /dev/stderr }\n' });
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'wparse started', mode: 'batch', workRoot: root });
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines.at(-1)).toMatchObject({ msg: 'wparse stopped' });
    expect(existsSync(path.join(root, 'data/logs'))).toBe(false);
  });

  it('help: the daemons name their signals and log file; wproj and wpgen promise no log', () => {
    expect(cli('wparse', ['daemon', '--help']).stdout).toMatch(/SIGHUP reloads the config[\s\S]*Logs: JSON lines in log\.file/);
    for (const [name, args] of [['wproj', ['stat', 'file']], ['wproj', ['check']], ['wpgen', ['sample']]] as const) {
      const h = cli(name, [...args, '--help']).stdout;
      expect(h).toMatch(/Exit codes: 0 success/);
      expect(h).not.toMatch(/Logs:/);
    }
  });
});

describe('--version and --json', () => {
  it('every command and subcommand answers --version', () => {
    const version = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
    const cmds: Array<['wparse' | 'wprescue' | 'wproj' | 'wpgen', string[]]> = [
      ['wparse', []], ['wparse', ['batch']], ['wprescue', ['daemon']], ['wprescue', ['queue', 'repair']], ['wproj', []], ['wproj', ['rescue', 'stat']],
      ['wproj', ['init']], ['wpgen', ['sample']],
    ];
    for (const [name, args] of cmds) {
      const r = cli(name, [...args, '--version'], { cwd: tmpDir() });
      expect(r.code, `${name} ${args.join(' ')}`).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('every --json document carries version, command and ok; errors print as JSON under --json', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(30) });
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0);
    const docs = [
      ['wprescue', 'status'], ['wproj', 'stat', 'file'], ['wproj', 'stat', 'src-file'], ['wproj', 'stat', 'sink-file'], ['wproj', 'validate', 'sink-file'], ['wproj', 'rescue', 'stat'],
    ] as const;
    for (const [name, ...args] of docs) {
      const r = cli(name, [...args, '--json', '-w', root]);
      const doc = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(Object.keys(doc).slice(0, 3), `${name} ${args.join(' ')}`).toEqual(['version', 'command', 'ok']);
      expect(doc.command).toBe([name, ...args].join(' '));
      expect(doc.ok).toBe(true);
    }
    const missing = cli('wproj', ['stat', 'file', '--json', '-w', tmpDir()]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ command: 'wproj stat file', ok: false, error: { code: 'CONFIG_NOT_FOUND' } });
    const both = cli('wproj', ['rescue', 'stat', '--json', '--csv', '-w', root]);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE', message: 'give --json or --csv, not both' } });
  });
});

