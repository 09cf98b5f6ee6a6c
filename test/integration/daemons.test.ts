import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { systemClock } from '../../src/platform/clock.js';
import { silentLogger } from '../../src/platform/logger.js';
import { runRescue } from '../../src/recovery/service.js';
import { bin } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { freePort, httpGet } from '../helpers/net.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';



/** The value of one sample line of a Prometheus text page, or undefined. */
function metric(page: string, name: string, labels = ''): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('wparse daemon', () => {
  it('follows its input, serves metrics, prints --stat tables, and on SIGTERM releases the rescue file and exits 0', async () => {
    const port = await freePort();
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(1000),
      engine: `metrics: { wparse: { listen: "127.0.0.1:${port}" } }\nrescue: { durability: fsync }\n`,
      groups: {
        app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: ok\n      connect: file_json\n      params: { file: ok.json }\n    - name: down\n      connect: rescue_json\n      params: { file: down.json, stages: [{ unhealthy: forever }] }\n',
      },
    });
    const d = startNode(bin('wparse'), ['daemon', '--stat', '1', '-w', root]);
    const ok = path.join(root, 'data/out_dat/ok.json');
    const parsed = (n: number): number => range(0, n).filter((i) => i % 11 !== 10).length;
    await until(() => outputNs(ok).length === parsed(1000), 20_000);
    appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(500, 1000)); // followed, not re-read
    await until(() => outputNs(ok).length === parsed(1500), 20_000);
    await until(() => /\| app\/down +\| RESCUE \|/.test(d.stdout()), 20_000);

    const page = (await httpGet(port, '/metrics')).body;
    expect(metric(page, 'wparse_lines_in_total', 'source="src"')).toBe(1500);
    expect(metric(page, 'wparse_records_out_total', 'group="app",sink="ok"')).toBe(parsed(1500));
    expect(metric(page, 'wparse_sink_failover_active', 'group="app",sink="down"')).toBe(1);
    expect(metric(page, 'wparse_sink_failover_active', 'group="app",sink="ok"')).toBe(0);
    expect(metric(page, 'wparse_rescue_lines_total', 'group="app",sink="down"')).toBe(parsed(1500));
    expect((await httpGet(port, '/healthz')).status).toBe(200);

    const rescue = path.join(root, 'data/rescue');
    expect(rescueFilesIn(rescue).map((f) => path.extname(f))).toEqual(['.lock']); // still being written
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(d.stderr()).toMatch(/SIGTERM: stopping/);
    const files = rescueFilesIn(rescue);
    expect(files.map((f) => path.extname(f))).toEqual(['.dat']); // released
    expect(compareNs(range(0, 1500).filter((i) => i % 11 !== 10), rescueNs(rescue))).toEqual({ missing: [], duplicates: 0 });
    expect(readdirSync(path.dirname(files[0]!)).filter((n) => n.endsWith('.owner'))).toEqual([]);
  });
});

describe('wprescue daemon', () => {
  it('a stop signal that comes while the queue is still opening is not lost', async () => {
    const root = makeWorkRoot(tmpDir());
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(0, 10));
    const summary = await runRescue({
      wr: loadWorkRoot(root), mode: 'daemon', signal: AbortSignal.abort(), clock: systemClock, log: silentLogger(), print: () => {},
    });
    expect(summary.dead).toBe(0); // returned (before the fix this waited forever for an abort that had fired)
    expect(existsSync(path.join(root, 'data/rescue/.wprescue.lock'))).toBe(false); // and let go of the directory
  });

  it('replays files released while it runs, serves replay metrics and /healthz, exits 0 on SIGINT', async () => {
    const port = await freePort();
    const root = makeWorkRoot(tmpDir(), {
      engine: `metrics: { wprescue: { listen: "127.0.0.1:${port}" } }\nperformance: { rate_limit_rps: 0 }\nrecovery: { scan_interval_ms: 60000 }\n`,
    });
    const rescue = path.join(root, 'data/rescue');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 100));
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    const out = path.join(root, 'data/out_dat/app.json');
    await until(() => outputNs(out).length === 100, 20_000);
    // released later: the directory watcher finds it (the rescan is a minute away)
    const later = writeRescueFile(rescue, 'app', 'main', T0 + 5000, 0, range(100, 250), { locked: true });
    const { renameSync } = await import('node:fs');
    renameSync(later, later.slice(0, -'.lock'.length));
    await until(() => outputNs(out).length === 250, 20_000);
    await until(() => !existsSync(later.slice(0, -'.lock'.length)), 20_000);

    const page = (await httpGet(port, '/metrics')).body;
    expect(metric(page, 'wprescue_replayed_lines_total', 'group="app",sink="main"')).toBe(250);
    expect(metric(page, 'wprescue_jobs_enqueued_total')).toBe(2);
    expect(metric(page, 'wprescue_jobs_completed_total')).toBe(2);
    expect(metric(page, 'wprescue_worker_pool_size')).toBe(2);
    expect(metric(page, 'wprescue_replay_rate_limit')).toBe(0);
    expect(metric(page, 'wprescue_recovery_duration_seconds')).toBeGreaterThanOrEqual(0);
    expect(await httpGet(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    d.child.kill('SIGINT');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(range(0, 250), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  });
});
