import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dirBytes } from '../../src/rescue/budget.js';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueNs } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 20_000;
const expected = range(0, N).filter((i) => i % 11 !== 10);
const MAX = 300_000; // a tenth of what the outage needs
const BATCH_BYTES = 512 * 200; // generous: one batch of rescue lines

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

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
      `${port ? `metrics: { listen: "127.0.0.1:${port}" }\n` : ''}performance: { rate_limit_rps: 0 }\nrecovery: { scan_interval_ms: 100, idle_exit_ms: 500 }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{ unhealthy: forever }] }\n' },
    infra: {},
  });
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
    for (let round = 0; round < 30 && outputNs(out).length + rescueNs(rescueDir).length < expected.length; round++) {
      const r = cli('wprescue', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
    }
    await until(() => outputNs(out).length + rescueNs(rescueDir).length >= expected.length, 30_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    expect(compareNs(expected, outputNs(out))).toEqual({ missing: [], duplicates: 0 });
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
});
