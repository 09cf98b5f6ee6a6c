import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { startNode, type RunningChild } from '../helpers/child.js';
import { compareNs, fileLines, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { freePort, httpGet } from '../helpers/net.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';



/** Polls an async condition (a real HTTP scrape; refused while the daemon starts) until it holds. */
async function eventually(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function metric(page: string, name: string, labels = ''): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const logOf = (root: string, cmd: string): Array<Record<string, unknown>> =>
  fileLines(path.join(root, `data/logs/${cmd}.log`)).map((l) => JSON.parse(l) as Record<string, unknown>);
const logged = (root: string, cmd: string, msg: string | RegExp): boolean =>
  logOf(root, cmd).some((e) => (typeof msg === 'string' ? e.msg === msg : msg.test(String(e.msg))));
const parsed = (ns: number[]): number[] => ns.filter((i) => i % 11 !== 10);
const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

async function stop(d: RunningChild, sig: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  d.child.kill(sig);
  return (await d.exit).code;
}

describe('metrics per daemon', () => {
  it('wparse and wprescue on one work root each serve their own families, process metrics and build_info; backlog gauges without --stat', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(200),
      engine: `metrics:\n  wparse: { listen: "127.0.0.1:${pa}" }\nperformance: { rate_limit_rps: 50 }\n`,
    });
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(1000, 3000));
    const wp = startNode(bin('wparse'), ['daemon', '-w', root]);
    const wr = startNode(bin('wprescue'), ['daemon', '--metrics-listen', `127.0.0.1:${pb}`, '-w', root]);
    await until(() => logged(root, 'wprescue', 'replay begun') && logged(root, 'wparse', 'source started'), 20_000);
    await eventually(async () => metric((await httpGet(pa, '/metrics')).body, 'wparse_lines_in_total', 'source="src"') === 200);

    const a = (await httpGet(pa, '/metrics')).body;
    expect(a).not.toContain('wprescue_');
    expect(a).toContain(`warp_rescue_build_info{version="${VERSION}"} 1`);
    expect(metric(a, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metric(a, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);

    await eventually(async () => (metric((await httpGet(pb, '/metrics')).body, 'wprescue_replayed_lines_total', 'group="app",sink="main"') ?? 0) > 0);
    const b = (await httpGet(pb, '/metrics')).body;
    expect(b).not.toContain('wparse_');
    expect(b).toContain(`warp_rescue_build_info{version="${VERSION}"} 1`);
    expect(metric(b, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    const backlog = metric(b, 'wprescue_backlog_lines', 'group="app",sink="main"')!;
    expect(backlog).toBeGreaterThan(500); // 2000 lines at 50/s: most still wait, and no --stat was given
    expect(backlog).toBeLessThan(2000);
    expect(metric(b, 'wprescue_backlog_oldest_seconds')).toBeGreaterThan((Date.now() - T0) / 1000 - 60);
    expect(await httpGet(pa, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await httpGet(pb, '/healthz')).toEqual({ status: 200, body: 'ok\n' });

    expect(await stop(wr)).toBe(0);
    expect(await stop(wp)).toBe(0);
    expect(existsSync(path.join(root, 'data/rescue/.wprescue.pid'))).toBe(false);
    const rl = logOf(root, 'wprescue');
    expect(rl[0]).toMatchObject({ level: 'info', msg: 'wprescue started', version: VERSION, workRoot: root, mode: 'daemon' });
    expect(rl[0]!.config).toEqual(expect.arrayContaining(['conf/wparse.yaml', 'conf/wpsrc.yaml', 'sink/business.d/app.yaml']));
    expect(String(rl[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(rl).toContainEqual(expect.objectContaining({ msg: 'SIGTERM: stopping', signal: 'SIGTERM' }));
    const requeued = rl.find((e) => /^job requeued at offset \d+$/.test(String(e.msg)));
    expect(String(requeued?.job)).toMatch(/^app\/main-/);
    expect(Number(requeued!.offset)).toBeGreaterThan(0);
    expect(rl.at(-1)).toMatchObject({ msg: 'wprescue stopped' });
    expect(logOf(root, 'wparse').at(-1)).toMatchObject({ msg: 'wparse stopped' });
  });
});

describe('/healthz', () => {
  it('wprescue: 503 with a JSON reason while backlog waits and nothing is replayed for the window; 200 once replay moves', async () => {
    const [pm, sinkPort] = [await freePort(), await freePort()];
    const root = makeWorkRoot(tmpDir(), {
      engine: `metrics:\n  wprescue: { listen: "127.0.0.1:${pm}" }\nrecovery: { max_retry: 1000 }\nreconnect: { initial_ms: 50, max_ms: 200, jitter: 0 }\n`,
      groups: { app: `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: tcp_json\n      params: { port: ${sinkPort} }\n` },
    });
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(0, 50));
    const d = startNode(bin('wprescue'), ['daemon', '-w', root], { env: { WPR_HEALTH_WINDOW_MS: '1000' } });
    await eventually(async () => (await httpGet(pm, '/healthz')).status === 503);
    const body = JSON.parse((await httpGet(pm, '/healthz')).body) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'unhealthy', reason: 'replay_stalled', sinks: ['app/main'] });
    expect(String(body.message)).toMatch(/backlog in app\/main and no line replayed for \d+s/);
    expect(body.last_error).toEqual(expect.any(String));

    let got = '';
    const sink = net.createServer((s) => s.on('data', (c: Buffer) => (got += c.toString())));
    await new Promise<void>((r) => sink.listen(sinkPort, '127.0.0.1', () => r()));
    try {
      await until(() => got.split('\n').length - 1 === 50, 30_000);
      await eventually(async () => (await httpGet(pm, '/healthz')).status === 200);
      expect(await stop(d)).toBe(0);
    } finally {
      sink.close();
    }
  });

  it('wprescue: a job that went dead makes it 503 for the window; the daemon still exits 0 on SIGTERM and leaves no pid file; batch exits 1', async () => {
    const [pm, sinkPort] = [await freePort(), await freePort()];
    const root = makeWorkRoot(tmpDir(), {
      engine: `metrics:\n  wprescue: { listen: "127.0.0.1:${pm}" }\nrecovery: { max_retry: 0, idle_exit_ms: 200 }\n`,
      groups: { app: `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: tcp_json\n      params: { port: ${sinkPort} }\n` },
    });
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(0, 5));
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await eventually(async () => (await httpGet(pm, '/healthz')).status === 503);
    expect(JSON.parse((await httpGet(pm, '/healthz')).body)).toMatchObject({ reason: 'dead_jobs', jobs: [expect.stringMatching(/^app\/main-/)] });
    expect(existsSync(path.join(root, 'data/rescue/.wprescue.pid'))).toBe(true);
    expect(await stop(d)).toBe(0);
    expect(d.stderr()).toMatch(/1 dead job\(s\)/);
    expect(existsSync(path.join(root, 'data/rescue/.wprescue.pid'))).toBe(false);
    expect(existsSync(path.join(root, 'data/rescue/.wprescue.lock'))).toBe(false);

    // an old dead job is reported, not unhealthy, once its window has passed
    const again = startNode(bin('wprescue'), ['daemon', '-w', root], { env: { WPR_HEALTH_WINDOW_MS: '1' } });
    await eventually(async () => (await httpGet(pm, '/healthz')).status === 200);
    expect(await stop(again, 'SIGINT')).toBe(0);
    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(1);
  });

  it('wparse: 503 while rescue writes fail (input paused), 200 again once they work', async () => {
    const pm = await freePort();
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(100),
      engine: `metrics:\n  wparse: { listen: "127.0.0.1:${pm}" }\nreconnect: { initial_ms: 50, max_ms: 200, jitter: 0 }\n`,
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: down\n      connect: rescue_json\n      params: { file: down.json, stages: [{ unhealthy: forever }] }\n' },
    });
    // a file where the group's rescue directory goes (a rescue.path under a file is a config error)
    mkdirSync(path.join(root, 'data/rescue'), { recursive: true });
    writeFileSync(path.join(root, 'data/rescue/app'), 'a file where the rescue directory should be\n');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await eventually(async () => (await httpGet(pm, '/healthz')).status === 503);
    expect(JSON.parse((await httpGet(pm, '/healthz')).body)).toMatchObject({ status: 'unhealthy', reason: 'rescue_write_failing', sinks: ['app/down'] });
    rmSync(path.join(root, 'data/rescue/app'));
    await eventually(async () => (await httpGet(pm, '/healthz')).status === 200);
    await until(() => logged(root, 'wparse', 'rescue writes resumed'), 20_000);
    expect(await stop(d)).toBe(0);
    expect(rescueFilesIn(path.join(root, 'data/rescue')).map((f) => path.extname(f))).toEqual(['.dat']);
  });
});

describe('signals', () => {
  it('wparse daemon: SIGHUP keeps the running config when the new one is invalid, applies a valid one (new sink fed, removed sink released); SIGUSR1 reopens the log', async () => {
    const input = (n: number, from: number): void => appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(n, from));
    const group = (sinks: string): string => `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n${sinks}`;
    const MAIN = '    - name: main\n      connect: file_json\n      params: { file: main.json }\n';
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(100),
      engine: 'rescue: { durability: fsync }\n',
      groups: { app: group(`${MAIN}    - name: down\n      connect: rescue_json\n      params: { file: down.json, stages: [{ unhealthy: forever }] }\n`) },
    });
    const main = path.join(root, 'data/out_dat/main.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => outputNs(main).length === parsed(range(0, 100)).length, 20_000);
    await until(() => rescueNs(path.join(root, 'data/rescue')).length === parsed(range(0, 100)).length, 20_000); // the down sink's file
    expect(rescueFilesIn(path.join(root, 'data/rescue')).map((f) => path.extname(f))).toEqual(['.lock']);

    writeFileSync(path.join(root, 'sink/business.d/app.yaml'), group('    - name: main\n      connect: no_such_connector\n'));
    d.child.kill('SIGHUP');
    await until(() => logged(root, 'wparse', 'reload failed: config invalid, the running config is kept'), 20_000);
    await until(() => /SIGHUP: reload failed, running config kept: .*unknown connector "no_such_connector"/.test(d.stderr()), 20_000);
    input(50, 100);
    await until(() => outputNs(main).length === parsed(range(0, 150)).length, 20_000);

    writeFileSync(path.join(root, 'sink/business.d/app.yaml'), group(`${MAIN}    - name: extra\n      connect: file_json\n      params: { file: extra.json }\n`));
    d.child.kill('SIGHUP');
    await until(() => logged(root, 'wparse', 'config reloaded'), 20_000);
    expect(rescueFilesIn(path.join(root, 'data/rescue')).map((f) => path.extname(f))).toEqual(['.dat']); // the removed sink let go of its file
    input(50, 150);
    const extra = path.join(root, 'data/out_dat/extra.json');
    await until(() => outputNs(extra).length === parsed(range(150, 200)).length, 20_000);
    await until(() => outputNs(main).length === parsed(range(0, 200)).length, 20_000);
    expect(compareNs(parsed(range(0, 200)), outputNs(main))).toEqual({ missing: [], duplicates: 0 });
    expect(compareNs(parsed(range(150, 200)), outputNs(extra))).toEqual({ missing: [], duplicates: 0 });

    const log = path.join(root, 'data/logs/wparse.log');
    renameSync(log, `${log}.1`); // logrotate
    d.child.kill('SIGUSR1');
    await until(() => existsSync(log) && logged(root, 'wparse', 'log file reopened'), 20_000);
    expect(d.child.exitCode).toBe(null); // still running

    expect(await stop(d)).toBe(0);
    expect(logOf(root, 'wparse').at(-1)).toMatchObject({ msg: 'wparse stopped' });
    expect(outputNs(main).length).toBe(parsed(range(0, 200)).length);
  });

  it('wprescue daemon: SIGHUP applies a new rate without losing or repeating a line', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'performance: { rate_limit_rps: 100 }\n' });
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(0, 3000));
    const out = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => outputNs(out).length > 100, 20_000);
    writeFileSync(path.join(root, 'conf/wparse.yaml'), 'performance: { rate_limit_rps: 0 }\n');
    d.child.kill('SIGHUP');
    await until(() => outputNs(out).length === 3000, 30_000); // 30 s at the old rate; the new one is unlimited
    expect(logged(root, 'wprescue', 'config reloaded')).toBe(true);
    expect(logOf(root, 'wprescue').filter((e) => e.msg === 'wprescue started')).toHaveLength(1);
    expect(await stop(d)).toBe(0);
    expect(compareNs(range(0, 3000), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  });
});
