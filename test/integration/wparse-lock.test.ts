import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidNamespace, processStartTime } from '../../src/platform/pid-alive.js';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, outputNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const parsed = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i).filter((i) => i % 11 !== 10);

// Two wparse on one work root read the same files from the same checkpoints (every line written
// twice), and `wproj data clean` under a running wparse left it writing into deleted files.
describe('one wparse per work root', () => {
  it('a second wparse and wproj data clean (even --force) refuse while one runs; both work once it stops', async () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(110) });
    const main = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => outputNs(main).length === 100, 20_000);

    const second = cli('wparse', ['batch', '-w', root]);
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(`wparse: work root ${root} is in use by another wparse (pid ${d.child.pid}); stop it first\n`);
    const clean = cli('wproj', ['data', 'clean', '--force', '-w', root]);
    expect(clean.code).toBe(2);
    expect(clean.stderr).toBe(`wproj: refusing to clean: wparse (pid ${d.child.pid}) is running on ${root}; stop it first\n`);
    expect(cli('wproj', ['data', 'clean', '--dry-run', '-w', root]).stdout).toMatch(/clean would refuse until it stops/);

    // nothing was removed: the daemon goes on writing into the live file, every line once
    appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(55, 110));
    await until(() => outputNs(main).length === 150, 20_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(parsed(0, 165), outputNs(main))).toEqual({ missing: [], duplicates: 0 });
    expect(existsSync(path.join(root, 'data/.run/wparse.pid'))).toBe(false);
    expect(existsSync(path.join(root, 'data/.run/wparse.lock'))).toBe(false);

    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0);
    expect(cli('wproj', ['data', 'clean', '-w', root]).code).toBe(0);
    expect(existsSync(main)).toBe(false);
  });

  it('a wparse killed with SIGKILL does not hold the work root: the next one starts at once', async () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(110) });
    const main = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => outputNs(main).length === 100, 20_000);
    d.child.kill('SIGKILL');
    await d.exit;
    expect(existsSync(path.join(root, 'data/.run/wparse.pid'))).toBe(true); // left behind by the kill
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareNs(parsed(0, 110), outputNs(main)).missing).toEqual([]);
  });

  it('a holder whose pid was reused after a kill -9 (a live process started later) does not hold the work root', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(110) });
    const run = path.join(root, 'data/.run');
    mkdirSync(path.join(run, 'wparse.lock'), { recursive: true }); // fresh: proper-lockfile alone would wait
    // this live test process's pid, as the dead holder's would be if reused, but started at another time
    const start = Number(processStartTime(process.pid));
    writeFileSync(path.join(run, 'wparse.pid'), `${process.pid} ${pidNamespace()} ${start - 1}\n`);
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareNs(parsed(0, 110), outputNs(path.join(root, 'data/out_dat/app.json')))).toEqual({ missing: [], duplicates: 0 });
  });

  it('a holder of another pid namespace (a container whose wparse is pid 1) holds the work root until its lock goes stale', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(110) });
    const run = path.join(root, 'data/.run');
    mkdirSync(path.join(run, 'wparse.lock'), { recursive: true });
    // a pid that names no process here, written in a namespace that is not ours: it says nothing
    const pid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    writeFileSync(path.join(run, 'wparse.pid'), `${pid} pid:[1]\n`);
    const held = cli('wparse', ['batch', '-w', root]);
    expect([held.code, held.stderr]).toEqual([2, `wparse: work root ${root} is in use by another wparse (pid ${pid}); stop it first\n`]);
    const old = new Date(Date.now() - 11_000);
    utimesSync(path.join(run, 'wparse.lock'), old, old); // its holder stopped refreshing it
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(compareNs(parsed(0, 110), outputNs(path.join(root, 'data/out_dat/app.json')))).toEqual({ missing: [], duplicates: 0 });
  });
});
