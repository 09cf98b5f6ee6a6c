import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { PipelineHealth } from '../../src/pipeline/health.js';
import { runPipeline } from '../../src/pipeline/run-pipeline.js';
import { systemClock } from '../../src/platform/clock.js';
import type { FsPort } from '../../src/platform/fs-port.js';
import type { Logger } from '../../src/platform/logger.js';
import { dirBytes } from '../../src/rescue/budget.js';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { diskFillingAfter } from '../helpers/fs-faults.js';
import { smallTmpfs } from '../helpers/tmpfs.js';
import { freePort } from '../helpers/net.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 20_000;
const expected = range(0, N).filter((i) => i % 11 !== 10);
const MAX = 300_000; // a tenth of what the outage needs
const BATCH_BYTES = 512 * 200; // generous: one batch of rescue lines


function metric(page: string, name: string, labels = ''): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A work root whose only sink is down for good (replay goes to its file), rescue capped at MAX. */
function cappedRoot(whenFull: string, port?: number): string {
  return makeWorkRoot(tmpDir(), {
    input: makeInput(N),
    engine:
      `rescue: { durability: fsync, max_bytes: ${MAX}, when_full: ${whenFull} }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\n` +
      `${port ? `metrics: { wparse: { listen: "127.0.0.1:${port}" } }\n` : ''}performance: { rate_limit_rps: 0 }\nrecovery: { scan_interval_ms: 100, idle_exit_ms: 500 }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{ unhealthy: forever }] }\n' },
    infra: {},
  });
}


/** Runs the pipeline in process on `root` until every line is in rescue, with `space()` turned on half-way. */
async function enospcRun(root: string, fs: FsPort | undefined, onFull: () => void): Promise<{ dropped: number; errors: string[] }> {
  const metrics = createMetrics();
  const errors: string[] = [];
  const log = { error: (_o: unknown, m: string) => errors.push(m), warn: () => {}, info: () => {}, debug: () => {} } as unknown as Logger;
  const ac = new AbortController();
  const rescueDir = path.resolve(root, loadWorkRoot(root).engine.rescue.path);
  const health = new PipelineHealth(systemClock);
  const run = runPipeline({ wr: loadWorkRoot(root), mode: 'daemon', signal: ac.signal, clock: systemClock, log, metrics, print: () => {}, health, ...(fs ? { fs } : {}) });
  await until(() => errors.includes('rescue write failed: input paused until it succeeds'), 30_000);
  expect(health.problem()).toMatchObject({ reason: 'rescue_write_failing', sinks: ['app/main'] });
  expect(health.problem()?.last_error).toMatch(/^app\/main: rescue write failing: .*ENOSPC/);
  expect(rescueNs(rescueDir).length).toBeLessThan(expected.length); // paused, not dropping
  onFull();
  await until(() => rescueNs(rescueDir).length === expected.length, 30_000);
  expect(health.problem()).toBeUndefined();
  ac.abort();
  await run;
  const dropped = (await metrics.rescueDropped.get()).values.reduce((a, v) => a + v.value, 0);
  return { dropped, errors };
}

const logOf = (root: string): string => {
  const f = path.join(root, 'data/logs/wparse.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

describe('rescue.max_bytes', () => {
  it('when_full: block pauses the input at the cap; wprescue replay frees space and reading resumes: nothing lost', async () => {
    const root = cappedRoot('block'); // no metrics: wprescue runs on the same config
    const rescueDir = path.join(root, 'data/rescue');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => logOf(root).includes('input paused until replay frees space'), 30_000);
    expect(dirBytes(rescueDir)).toBeLessThanOrEqual(MAX + BATCH_BYTES);
    const stuck = rescueNs(rescueDir).length;
    expect(stuck).toBeLessThan(expected.length);
    await new Promise((r) => setTimeout(r, 1500)); // a few budget rescans: still paused, nothing dropped
    expect(rescueNs(rescueDir).length).toBe(stuck);
    // replay drains the released files into the sink's file; wparse goes on as space returns
    const out = path.join(root, 'data/out_dat/app.json');
    // by distinct ids: a count sum would also count a line twice (in the output and in a file not yet deleted)
    const allRead = (): boolean => compareNs(expected, [...outputNs(out), ...rescueNs(rescueDir)]).missing.length === 0;
    for (let round = 0; round < 30 && !allRead(); round++) {
      const r = cli('wprescue', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
    }
    await until(allRead, 30_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    expect(compareNs(expected, outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  });

  it('with block, /healthz says 503 and why; a graceful stop while blocked exits 0 and a restart finishes the input', async () => {
    const port = await freePort();
    const root = cappedRoot('block', port);
    const rescueDir = path.join(root, 'data/rescue');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => logOf(root).includes('input paused until replay frees space'), 30_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.text()).toContain('rescue directory full');
    const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metric(page, 'wparse_rescue_max_bytes')).toBe(MAX);
    expect(metric(page, 'wparse_lines_in_total', 'source="src"')).toBeLessThan(N); // stopped reading
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(rescueFilesIn(rescueDir).every((f) => f.endsWith('.dat'))).toBe(true);
    // uncapped, the next run takes the rest from the checkpoint: every line once
    writeFileSync(path.join(root, 'conf/wparse.yaml'), readFileSync(path.join(root, 'conf/wparse.yaml'), 'utf8').replace(`max_bytes: ${MAX}`, 'max_bytes: 0').replace(/metrics:.*\n/, ''));
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0);
    expect(compareNs(expected, rescueNs(rescueDir))).toEqual({ missing: [], duplicates: 0 });
  });

  it('when_full: drop_newest drops at the cap, counts exactly the missing lines, and logs once', async () => {
    const port = await freePort();
    const root = cappedRoot('drop_newest', port);
    const rescueDir = path.join(root, 'data/rescue');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let page = '';
    for (let i = 0; i < 300 && metric(page, 'wparse_lines_in_total', 'source="src"') !== N; i++) {
      page = await scrape().catch(() => '');
      await new Promise((r) => setTimeout(r, 100));
    }
    page = await scrape();
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(metric(page, 'wparse_rescue_max_bytes')).toBe(MAX);
    expect(metric(page, 'wparse_rescue_bytes')).toBeGreaterThan(MAX / 2);
    const dropped = metric(page, 'wparse_rescue_dropped_total', 'group="app",sink="main"') ?? 0;
    const { missing, duplicates } = compareNs(expected, rescueNs(rescueDir));
    expect(duplicates).toBe(0);
    expect(dropped).toBeGreaterThan(0);
    expect(missing.length).toBe(dropped);
    expect(dirBytes(rescueDir)).toBeLessThanOrEqual(MAX + BATCH_BYTES);
    expect(logOf(root).split('\n').filter((l) => l.includes('dropping newest records'))).toHaveLength(1);
  });

  it('when_full: drop_newest, a batch run that ends still full: the log says how many it dropped (SPEC section 4: counted and logged)', () => {
    // small batches under a small cap: the run ends while the directory is still full
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(2000),
      engine: 'rescue: { max_bytes: 20000, when_full: drop_newest }\nperformance: { batch_size: 10 }\n',
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{ unhealthy: forever }] }\n' },
      infra: {},
    });
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const { missing, duplicates } = compareNs(range(0, 2000).filter((i) => i % 11 !== 10), rescueNs(path.join(root, 'data/rescue')));
    expect(duplicates).toBe(0);
    expect(missing.length).toBeGreaterThan(0);
    const dropped = logOf(root)
      .split('\n')
      .filter((l) => l.includes('dropping ended'))
      .map((l) => (JSON.parse(l) as { dropped: number }).dropped);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(missing.length);
  });

  it('a full disk (ENOSPC) below the cap blocks even with drop_newest: nothing dropped, all written once space returns', async () => {
    const fsRoot = (rescueDir: string): string =>
      makeWorkRoot(tmpDir(), {
        input: makeInput(N),
        engine: `rescue: { path: ${rescueDir}, durability: fsync, max_bytes: 100000000, when_full: drop_newest }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\n`,
        groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{ unhealthy: forever }] }\n' },
        infra: {},
      });
    // through the injected fs port: ENOSPC half-way through a write
    const portDir = path.join(tmpDir(), 'rescue');
    const { fs, makeRoom } = diskFillingAfter(200_000);
    const viaPort = await enospcRun(fsRoot(portDir), fs, makeRoom);
    expect(viaPort.dropped).toBe(0);
    expect(compareNs(expected, rescueNs(portDir))).toEqual({ missing: [], duplicates: 0 });
    // and for real on a small tmpfs, where this machine can mount one
    const tmpfsDir = path.join(tmpDir(), 'rescue');
    if (smallTmpfs(tmpfsDir, '512k')) {
      const real = await enospcRun(fsRoot(tmpfsDir), undefined, () => execFileSync('mount', ['-o', 'remount,size=64m', tmpfsDir]));
      expect(real.dropped).toBe(0);
      expect(compareNs(expected, rescueNs(tmpfsDir))).toEqual({ missing: [], duplicates: 0 });
    }
  });
});
