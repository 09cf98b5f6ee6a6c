import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, cliAsync } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, fileLines, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

/**
 * The conformance suite every sink type passes, run once per type through the real binaries: a
 * new sink is done when it passes. A harness says how to reach the backend and what it can do;
 * the suite stages the cases and checks every input line with an exact oracle (the record field
 * `n` is the input line number).
 */
export interface SinkHarness {
  type: string;
  /** Starts what the sink talks to (a listener, a server); returns the connector's params. */
  start(dir: string, opts: { failAfter?: number; killCase?: boolean }): Promise<Record<string, unknown>>;
  /** The `n` of every record the backend holds, in arrival order; absent when it keeps nothing (blackhole). */
  delivered?(): Promise<number[]>;
  /** Makes the backend reachable again after `failAfter` took it down. */
  up?(): Promise<void>;
  stop(): Promise<void>;
  /** Params that make the backend reject records whose `n` is a multiple of 5 (a 4xx, a constraint). */
  rejectParams?: Record<string, unknown>;
  /** Keyed sinks (postgres, nats) promise no duplicate at all after a kill. */
  keyed?: boolean;
}

const N = 20_000;
const BATCH = 256;
/** Lines of the rejection case: a sink that isolates bad rows by splitting batches pays per bad row. */
const R = 2000;
const appNs = (from = 0, to = N): number[] => [...Array(to - from).keys()].map((i) => i + from).filter((i) => i % 11 !== 10);

function workRoot(h: SinkHarness, params: Record<string, unknown>, input: string): string {
  const connectors = `connectors:\n  - id: under_test\n    type: ${h.type}\n    params: ${JSON.stringify(params)}\n  - id: file_json\n    type: file\n    params: { base: ./data/out_dat, file: out.json, fmt: json }\n    allow_override: [file]\n`;
  return makeWorkRoot(tmpDir('wr-conf-'), {
    input,
    connectors,
    engine: `rescue: { durability: batch, flush_ms: 20 }\nreconnect: { initial_ms: 50, max_ms: 200, jitter: 0 }\nperformance: { rate_limit_rps: 0, batch_size: ${BATCH} }\nrecovery: { idle_exit_ms: 300, scan_interval_ms: 50, max_retry: 20 }\nqueue: { fsync: always }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: under_test\n' },
  });
}

/** `n` of every record in the error group's output, with the sink and reason it carries. */
function errorNs(root: string): Array<{ n: number; sink: string; error: string }> {
  return fileLines(path.join(root, 'data/out_dat/error.json')).map((l) => {
    const r = JSON.parse(l) as { n: number; _sink: string; _error: string };
    return { n: r.n, sink: r._sink, error: r._error };
  });
}

/**
 * What the backend holds once it stopped changing: a receiver in this process may still be reading
 * what the command wrote before it exited.
 */
async function settled(read: () => Promise<number[]>, want: number): Promise<number[]> {
  let last = await read();
  for (let i = 0; i < 100 && last.length < want; i++) {
    await new Promise((r) => setTimeout(r, 20));
    last = await read();
  }
  return last;
}

/** The Delivered column of `app/main` in `wparse`'s summary table. */
function deliveredCount(stdout: string): number {
  const row = /^\| app\/main +\| +(\d+) \|/m.exec(stdout);
  if (!row) throw new Error(`no app/main row in wparse output:\n${stdout}`);
  return Number(row[1]);
}

export function sinkConformance(h: SinkHarness): void {
  describe(`sink conformance: ${h.type}`, () => {
    afterEach(() => h.stop());

    it('healthy delivery is exact and in order', async () => {
      const root = workRoot(h, await h.start(tmpDir(), {}), makeInput(N));
      const r = await cliAsync('wparse', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
      expect(deliveredCount(r.stdout)).toBe(appNs().length);
      if (h.delivered) expect(await settled(h.delivered.bind(h), appNs().length)).toEqual(appNs());
      expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
    });

    it('close and reopen: a second run appends exactly the new lines', async () => {
      const params = await h.start(tmpDir(), {});
      const root = workRoot(h, params, makeInput(N / 2));
      expect((await cliAsync('wparse', ['batch', '-w', root])).code).toBe(0);
      const { appendFileSync } = await import('node:fs');
      appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(N / 2, N / 2));
      const second = await cliAsync('wparse', ['batch', '-w', root]);
      expect(second.code).toBe(0);
      expect(deliveredCount(second.stdout)).toBe(appNs(N / 2, N).length);
      if (h.delivered) expect(await settled(h.delivered.bind(h), appNs().length)).toEqual(appNs());
    });

    if (h.up && h.delivered) {
      const delivered = h.delivered.bind(h);
      it('unavailable mid-run: the rest is rescued (a partial accept rescues only the rest), replay delivers it exactly once', async () => {
        const root = workRoot(h, await h.start(tmpDir(), { failAfter: 3000 }), makeInput(N));
        const r = await cliAsync('wparse', ['batch', '-w', root]);
        expect(r.code, r.stderr).toBe(0);
        const before = await delivered();
        const rescued = rescueNs(path.join(root, 'data/rescue'));
        // the outage came mid-run: some lines went through first (else say what the run saw)
        expect(before.length, `nothing delivered, ${rescued.length} rescued; wparse said: ${r.stderr}`).toBeGreaterThanOrEqual(1);
        expect(compareNs(appNs(), [...before, ...rescued]).missing).toEqual([]);
        await h.up!();
        const rr = await cliAsync('wprescue', ['batch', '-w', root]);
        expect(rr.code, rr.stderr).toBe(0);
        expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
        const after = await settled(delivered, appNs().length);
        const { missing, duplicates } = compareNs(appNs(), after);
        expect(missing).toEqual([]);
        // what the backend took but could not confirm before it failed may come twice, never more
        expect(duplicates).toBeLessThanOrEqual(h.keyed ? 0 : rescued.length);
      });

      it('kill -9 of wparse during an outage and of wprescue mid-replay loses nothing', async () => {
        const rand = prng(h.type.length * 31);
        const root = workRoot(h, await h.start(tmpDir(), { failAfter: 2000, killCase: true }), makeInput(N * 5));
        const d = startNode(bin('wparse'), ['daemon', '-w', root]);
        await new Promise((r) => setTimeout(r, 300 + rand() * 300)); // the crash moment is what is random here
        d.child.kill('SIGKILL');
        expect((await d.exit).signal).toBe('SIGKILL');
        expect((await cliAsync('wparse', ['batch', '-w', root])).code).toBe(0);
        await h.up!();
        for (let attempt = 0; attempt < 10; attempt++) {
          const c = startNode(bin('wprescue'), ['batch', '-w', root]);
          const timer = attempt < 2 ? setTimeout(() => c.child.kill('SIGKILL'), 100 + rand() * 300) : undefined;
          const { code, signal } = await c.exit;
          clearTimeout(timer);
          if (signal === 'SIGKILL') continue;
          expect(code, c.stderr()).toBe(0);
          break;
        }
        expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
        const { missing, duplicates } = compareNs(appNs(0, N * 5), await settled(delivered, appNs(0, N * 5).length));
        expect(missing).toEqual([]);
        if (h.keyed) expect(duplicates).toBe(0);
      });
    }

    if (h.rejectParams) {
      it('rejected records reach the error group with the sink and a reason, never rescue', async () => {
        const params = { ...(await h.start(tmpDir(), {})), ...h.rejectParams };
        const root = workRoot(h, params, makeInput(R));
        const r = await cliAsync('wparse', ['batch', '-w', root]);
        expect(r.code, r.stderr).toBe(0);
        const errors = errorNs(root);
        const want = appNs(0, R).filter((n) => n % 5 === 0);
        expect(errors.map((e) => e.n)).toEqual(want);
        expect(errors.every((e) => e.sink === 'app/main' && e.error.length > 0)).toBe(true);
        expect(deliveredCount(r.stdout)).toBe(appNs(0, R).length - want.length);
        if (h.delivered) expect(await settled(h.delivered.bind(h), appNs(0, R).length - want.length)).toEqual(appNs(0, R).filter((n) => n % 5 !== 0));
        expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
      });
    }
  });
}
