import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, cliAsync } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { startCollector, type Collector } from '../helpers/http-collector.js';
import { compareNs, fileLines, rescueFilesIn } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { DEFAULT_CONNECTORS, makeInput, makeWorkRoot } from '../helpers/work-root.js';

const collectors: Collector[] = [];
afterEach(async () => {
  for (const c of collectors.splice(0)) await c.close();
});

async function collector(...args: Parameters<typeof startCollector>): Promise<Collector> {
  const c = await startCollector(...args);
  collectors.push(c);
  return c;
}

const BATCH = 256;

/** Polls every 5 ms (not every tick: the child being measured needs the CPU) until `cond` holds. */
async function waitFor(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A work root whose `app` group writes to the collector through `type: http` (id_field rid). */
function httpRoot(url: string, input: string, engine = '', rate = 0): string {
  return makeWorkRoot(tmpDir('wr-http-'), {
    input,
    engine: `performance: { rate_limit_rps: ${rate}, batch_size: ${BATCH} }\nreconnect: { initial_ms: 50, max_ms: 200, jitter: 0 }\nrecovery: { idle_exit_ms: 300, scan_interval_ms: 50, max_retry: 50 }\n${engine}`,
    connectors: `${DEFAULT_CONNECTORS}  - id: web\n    type: http\n    params: { url: "${url}", id_field: rid, max_lines: 100, timeout_ms: 2000 }\n    allow_override: [url]\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: web\n' },
  });
}

const parsedNs = (n: number): number[] => range(0, n).filter((i) => i % 11 !== 10);
const nsOf = (lines: string[]): number[] => lines.map((l) => (JSON.parse(l) as { n: number }).n);
const ridsOf = (lines: string[]): string[] => lines.map((l) => (JSON.parse(l) as { rid: string }).rid);

describe('http sink driven by wparse and wprescue', () => {
  it('a run of 503s goes to rescue, a 400 batch to error with its status; replay delivers the rest: every line once', async () => {
    const N = 5000;
    // request 3 is rejected; 6..15 (batches and probes) get 503s
    const c = await collector((r) => (r.n === 3 ? { status: 400, body: 'schema mismatch' } : r.n >= 6 && r.n < 16 ? { status: 503 } : { status: 200 }));
    const root = httpRoot(c.url, makeInput(N));
    const p = await cliAsync('wparse', ['batch', '-w', root]);
    expect(p.code, p.stderr).toBe(0);
    const rescued = rescueFilesIn(path.join(root, 'data/rescue'));
    expect(rescued.length).toBeGreaterThanOrEqual(1);
    const r = await cliAsync('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
    const errors = fileLines(path.join(root, 'data/out_dat/error.json')).map((l) => JSON.parse(l) as { n: number; _error: string });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toHaveLength(c.requests[3]!.lines.length);
    expect(errors.every((e) => e._error === 'HTTP 400: schema mismatch')).toBe(true);
    const { missing, duplicates } = compareNs(parsedNs(N), [...nsOf(c.delivered), ...errors.map((e) => e.n)]);
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect(fileLines(path.join(root, 'data/out_dat/miss.json'))).toHaveLength(N - parsedNs(N).length);
    // record ids ride along for the receiver to deduplicate on
    expect(new Set(ridsOf(c.delivered)).size).toBe(c.delivered.length);
  });

  it('a 400 during replay sends those records to the error group with the status, as in wparse (SPEC section 3); the rest is delivered', async () => {
    // POST 1 of the replay (lines 100..199) is rejected, every other one delivered
    const c = await collector((r) => (r.n === 1 ? { status: 400, body: 'schema mismatch' } : { status: 200 }));
    const root = httpRoot(c.url, '');
    writeRescueFile(path.join(root, 'data/rescue'), 'app', 'main', T0, 0, range(0, 300));
    const r = await cliAsync('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
    const errors = fileLines(path.join(root, 'data/out_dat/error.json')).map((l) => JSON.parse(l) as { n: number; _sink: string; _error: string });
    expect(errors.map((e) => e.n)).toEqual(range(100, 200));
    expect(errors.every((e) => e._sink === 'app/main' && e._error === 'HTTP 400: schema mismatch')).toBe(true);
    expect(nsOf(c.delivered)).toEqual([...range(0, 100), ...range(200, 300)]);
  });

  it('wproj: check names bad params with file:line; stat and validate say the http sink has no file to count', async () => {
    const c = await collector();
    const root = httpRoot(c.url, makeInput(10));
    const check = await cliAsync('wproj', ['check', '-w', root]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const stat = await cliAsync('wproj', ['stat', 'sink-file', '-w', root]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(stat.stdout).toContain('app/main: a http sink has no file to count');
    const withExpect = httpRoot(c.url, makeInput(200));
    writeFileSync(path.join(withExpect, 'sink/business.d/app.yaml'), 'group:\n  name: app\n  rule: ["/app/*"]\n  expect: { basis: total_input, min_samples: 1 }\n  sinks:\n    - name: main\n      connect: web\n      expect: { ratio: 0.9, tol: 0.05 }\n');
    const v = await cliAsync('wproj', ['validate', 'sink-file', '-w', withExpect]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/validate: WARN/);
    expect(v.stdout).toContain('WARN: app/main: a http sink has no file to count: its expect is not checked');
    const bad = makeWorkRoot(tmpDir('wr-http-bad-'), {
      connectors: `${DEFAULT_CONNECTORS}  - id: web\n    type: http\n    params: { url: "localhost:8080 ingest", compression: brotli }\n`,
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: web\n' },
    });
    const badCheck = await cliAsync('wproj', ['check', '-w', bad]);
    expect(badCheck.code).toBe(2);
    const text = badCheck.stdout + badCheck.stderr;
    expect(text).toMatch(/connectors\.d\/00\.yaml:\d+:\d+: .*compression: expected one of none \| gzip/);
    expect(text).toMatch(/app\.yaml:\d+:\d+: .*url: "localhost:8080 ingest": protocol must be http:\/\/ or https:\/\//);
  });

  for (const seed of [21, 22]) {
    it(`kill -9 of wparse daemon mid-stream (seed ${seed}): every line reaches the collector, duplicates at most one batch`, async () => {
      const N = 100_000;
      const c = await collector();
      const root = httpRoot(c.url, makeInput(N), 'rescue: { durability: fsync }\n');
      const d = startNode(bin('wparse'), ['daemon', '-w', root]);
      const killAt = 2000 + Math.floor(prng(seed)() * 30_000);
      await waitFor(() => c.delivered.length >= killAt || d.child.exitCode !== null);
      d.child.kill('SIGKILL');
      expect((await d.exit).signal).toBe('SIGKILL');
      const p = await cliAsync('wparse', ['batch', '-w', root]);
      expect(p.code, p.stderr).toBe(0);
      const { missing, duplicates } = compareNs(parsedNs(N), nsOf(c.delivered));
      expect(missing).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(BATCH);
      // a repeated line carries the same record id: deduplicating on id_field leaves the input exactly
      expect(new Set(ridsOf(c.delivered)).size).toBe(parsedNs(N).length);
    }, 120_000);
  }

  it('three kill -9 of wprescue mid-replay: every rescued line reaches the collector, duplicates at most one batch per kill', async () => {
    const c = await collector();
    const root = httpRoot(c.url, '', 'queue: { fsync: always }\n', 20_000);
    const rescue = path.join(root, 'data/rescue');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 30_000));
    writeRescueFile(rescue, 'app', 'main', T0 + 1000, 0, range(30_000, 45_000));
    let kills = 0;
    for (const at of [5000, 18_000, 33_000]) {
      const w = startNode(bin('wprescue'), ['batch', '-w', root]);
      await waitFor(() => c.delivered.length >= at || w.child.exitCode !== null);
      w.child.kill('SIGKILL');
      if ((await w.exit).signal === 'SIGKILL') kills++;
    }
    expect(kills).toBe(3);
    const r = await cliAsync('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(rescueFilesIn(rescue)).toEqual([]);
    const { missing, duplicates } = compareNs(range(0, 45_000), nsOf(c.delivered));
    expect(missing).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(BATCH * kills);
  }, 120_000);
});
