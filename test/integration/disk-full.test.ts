import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { runPipeline } from '../../src/pipeline/run-pipeline.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Logger } from '../../src/platform/logger.js';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { diskFillingAfter } from '../helpers/fs-faults.js';
import { smallTmpfs } from '../helpers/tmpfs.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const N = 20_000;
const expected = range(0, N).filter((i) => i % 11 !== 10);

/** A work root whose only sink is down for good, so every record goes to rescue at `rescueDir`. */
function downRoot(rescueDir: string): string {
  return makeWorkRoot(tmpDir(), {
    input: makeInput(N),
    engine: `rescue: { path: ${rescueDir}, durability: fsync }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: rescue_json\n      params: { file: app.json, stages: [{ unhealthy: forever }] }\n' },
    infra: {},
  });
}

/** Every complete line of the rescue files parses (rescueNs throws otherwise) and none is cut: files end in `\n`. */
function wholeLines(rescueDir: string): number[] {
  for (const f of rescueFilesIn(rescueDir)) {
    const text = readFileSync(f, 'utf8');
    expect(text === '' || text.endsWith('\n'), f).toBe(true);
  }
  return rescueNs(rescueDir);
}

describe('disk full on the rescue directory', () => {
  it('wparse does not crash, logs one clear error, keeps no partial line, and resumes when space returns', async () => {
    const rescueDir = path.join(tmpDir(), 'rescue');
    if (smallTmpfs(rescueDir, '512k')) {
      // a real ENOSPC: the whole outage needs about 2 MB of rescue file
      const root = downRoot(rescueDir);
      const d = startNode(bin('wparse'), ['daemon', '-w', root]);
      const logFile = path.join(root, 'data/logs/wparse.log');
      const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
      await until(() => log().includes('rescue write failed'), 20_000);
      // while it runs, a write may be half done (or cut back after ENOSPC): whole lines are checked after the stop
      const stuck = rescueNs(rescueDir).length;
      expect(stuck).toBeGreaterThan(0);
      expect(stuck).toBeLessThan(expected.length); // input paused, not dropped
      expect(d.child.exitCode).toBeNull(); // still running
      execFileSync('mount', ['-o', 'remount,size=64m', rescueDir]); // space returns
      await until(() => log().includes('rescue writes resumed'), 20_000);
      await until(() => rescueFilesIn(rescueDir).length === 1 && rescueNs(rescueDir).length === expected.length, 20_000);
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
      expect(log().split('\n').filter((l) => l.includes('rescue write failed'))).toHaveLength(1);
      expect(rescueFilesIn(rescueDir).every((f) => f.endsWith('.dat'))).toBe(true);
      expect(compareNs(expected, wholeLines(rescueDir))).toEqual({ missing: [], duplicates: 0 });
      return;
    }
    // No tmpfs here: the same story in process, ENOSPC injected through the fs port mid-write.
    const root = downRoot(rescueDir);
    const { fs, makeRoom } = diskFillingAfter(200_000);
    const errors: string[] = [];
    const info: string[] = [];
    const log = { error: (_o: unknown, m: string) => errors.push(m), warn: () => {}, info: (_o: unknown, m: string) => info.push(m), debug: () => {} } as unknown as Logger;
    const ac = new AbortController();
    const run = runPipeline({ wr: loadWorkRoot(root), mode: 'daemon', signal: ac.signal, clock: systemClock, log, print: () => {}, fs });
    await until(() => errors.includes('rescue write failed: input paused until it succeeds'), 20_000);
    expect(rescueNs(rescueDir).length).toBeLessThan(expected.length);
    makeRoom();
    await until(() => info.includes('rescue writes resumed'), 20_000);
    await until(() => rescueNs(rescueDir).length === expected.length, 20_000);
    ac.abort();
    await run;
    expect(errors.filter((e) => e.startsWith('rescue write failed'))).toHaveLength(1);
    expect(compareNs(expected, wholeLines(rescueDir))).toEqual({ missing: [], duplicates: 0 });
  });

  it('a graceful stop while rescue writes keep failing ends wparse with one clear error; the next start loses nothing', async () => {
    const rescueDir = path.join(tmpDir(), 'rescue');
    const root = downRoot(rescueDir);
    mkdirSync(rescueDir, { recursive: true });
    writeFileSync(path.join(rescueDir, 'app'), 'in the way\n'); // a file where the group's directory goes
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    const logFile = path.join(root, 'data/logs/wparse.log');
    await until(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('rescue write failed'), 20_000);
    d.child.kill('SIGTERM');
    const { code } = await d.exit;
    expect(code, d.stderr()).toBe(3);
    expect(d.stderr()).toMatch(/stopped while rescue writes fail \(cannot create rescue directory .*app: (ENOTDIR|EEXIST)\)/);
    rmSync(path.join(rescueDir, 'app'));
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareNs(expected, wholeLines(rescueDir))).toEqual({ missing: [], duplicates: 0 });
  });
});
