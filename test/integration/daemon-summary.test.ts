import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { fileLines, outputNs } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const reloaded = (root: string, cmd: string): number =>
  fileLines(path.join(root, `data/logs/${cmd}.log`)).filter((l) => (JSON.parse(l) as { msg?: string }).msg === 'config reloaded').length;

// The summary a daemon prints when it stops covers its whole life, not only the run since the last
// SIGHUP reload (it used to report only the lines read after the reload).
describe('daemon stop summary across SIGHUP reloads', () => {
  it('wparse daemon: lines, miss and per-sink counts of every run are added up', async () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(110) });
    const main = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => outputNs(main).length === 100, 20_000); // 110 lines, every 11th unparsable
    d.child.kill('SIGHUP');
    await until(() => reloaded(root, 'wparse') === 1, 20_000);
    appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(55, 110));
    await until(() => outputNs(main).length === 150, 20_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(d.stdout()).toMatch(/^wparse: done: 165 lines in [\d.]+ s \(\d+ lines\/s\), 15 miss, 0 unrouted$/m);
    expect(d.stdout()).toMatch(/^\| app\/main +\| +150 \| +0 \| +0 \|$/m);
    expect(d.stdout()).toMatch(/^\| miss\/\[0\] +\| +15 \| +0 \| +0 \|$/m);
  });

  it('wprescue daemon: replayed lines of every run are added up', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'recovery: { scan_interval_ms: 100 }\n' });
    const rescue = path.join(root, 'data/rescue');
    const out = path.join(root, 'data/out_dat/app.json');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 40));
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => outputNs(out).length === 40, 20_000);
    writeFileSync(path.join(root, 'conf/wparse.yaml'), 'recovery: { scan_interval_ms: 200 }\n');
    d.child.kill('SIGHUP');
    await until(() => reloaded(root, 'wprescue') === 1, 20_000);
    writeRescueFile(rescue, 'app', 'main', T0 + 1000, 0, range(40, 70));
    await until(() => outputNs(out).length === 70, 20_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(d.stdout()).toMatch(/^wprescue: replayed 70 lines; salvaged 0 file\(s\); 0 dead job\(s\)$/m);
  });
});
