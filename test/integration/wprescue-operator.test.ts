import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, outputNs, rescueNs } from '../helpers/outputs.js';
import { freePort, httpGet } from '../helpers/net.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

/**
 * `rm -rf` as an operator runs it, again when it says "Directory not empty": the daemon may make
 * a file in a directory between rm's walk and its rmdir (it takes its lock back, rewrites a checkpoint).
 */
function rmRf(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt >= 100) throw err;
    }
  }
}

const ENGINE = 'recovery: { idle_exit_ms: 300, scan_interval_ms: 100, workers: 1, max_retry: 3 }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\nperformance: { rate_limit_rps: 0 }\n';

describe('wprescue daemon, the rescue directory removed under it', () => {
  it('rm -rf data/rescue, then a new spill: replayed, still one wprescue, and a kill -9 mid-replay resumes at its checkpoint', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: ENGINE });
    const rescue = path.join(root, 'data/rescue');
    const out = path.join(root, 'data/out_dat/app.json');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    const d = startNode(bin('wprescue'), ['daemon', '--rate', '400', '-w', root]);
    await until(() => outputNs(out).length === 10, 20_000);
    rmRf(rescue); // lock, pid file and recover.lock with it
    const spilled = writeRescueFile(rescue, 'app', 'main', T0 + 1000, 0, range(10, 3010), { locked: true }); // wparse spills again
    renameSync(spilled, spilled.slice(0, -'.lock'.length)); // and releases the file
    // the daemon takes its lock back (proper-lockfile notices within 2.5 s) and finds the new file
    await until(() => existsSync(path.join(rescue, '.wprescue.pid')), 30_000);
    await until(() => outputNs(out).length >= 1000, 30_000);
    const second = cli('wprescue', ['batch', '-w', root]);
    expect(second.code, second.stdout + second.stderr).toBe(2);
    d.child.kill('SIGKILL');
    await d.exit;
    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const all = outputNs(out);
    const cmp = compareNs(range(0, 3010), all);
    expect(cmp.missing).toEqual([]);
    // resumed at the checkpoint: at most one batch again (--rate 400: batches of 4 lines)
    expect(cmp.duplicates).toBeLessThanOrEqual(4);
  }, 120_000);

  it('rm -rf data/rescue and another process takes the lock first: the daemon stops with exit 2 naming it, leaving the lock alone', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: ENGINE });
    const rescue = path.join(root, 'data/rescue');
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => existsSync(path.join(rescue, '.wprescue.pid')), 20_000);
    rmRf(rescue);
    mkdirSync(path.join(rescue, '.wprescue.lock'), { recursive: true }); // another owner (this live test process)
    writeFileSync(path.join(rescue, '.wprescue.pid'), `${process.pid}\n`);
    const exit = await d.exit;
    expect(exit.code).toBe(2);
    expect(d.stderr()).toMatch(/taken by another process after its lock was removed/);
    expect(readFileSync(path.join(rescue, '.wprescue.pid'), 'utf8')).toBe(`${process.pid}\n`);
    expect(existsSync(path.join(rescue, '.wprescue.lock'))).toBe(true);
  }, 60_000);

  it('rm -rf of data/rescue and the queue directory: the WAL starts a new segment, later spills replay, SIGTERM exits 0, a restart replays nothing', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: `${ENGINE}queue: { snapshot_interval_ms: 100 }\n` });
    const rescue = path.join(root, 'data/rescue');
    const queue = path.join(root, 'data/.run/queue');
    const out = path.join(root, 'data/out_dat/app.json');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => outputNs(out).length === 10, 20_000);
    rmRf(rescue);
    rmRf(queue);
    const first = writeRescueFile(rescue, 'app', 'main', T0 + 1000, 0, range(10, 1010), { locked: true });
    renameSync(first, first.slice(0, -'.lock'.length));
    await until(() => outputNs(out).length === 1010, 20_000);
    await until(() => existsSync(queue), 20_000); // the next snapshot's rotation (the one that got stuck before)
    const second = writeRescueFile(rescue, 'app', 'main', T0 + 2000, 0, range(1010, 1110), { locked: true });
    renameSync(second, second.slice(0, -'.lock'.length));
    await until(() => outputNs(out).length >= 1110, 30_000);
    d.child.kill('SIGTERM');
    const exit = await d.exit;
    expect(exit.code, d.stderr()).toBe(0);
    const st = JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as { counts: Record<string, number> };
    expect(st.counts).toMatchObject({ pending: 0, in_flight: 0, dead: 0 });
    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/replayed 0 lines/);
    expect(compareNs(range(0, 1110), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  }, 120_000);
});

describe('wprescue and a damaged recover.lock', () => {
  it('a directory in its place: exit 3 naming the file, not an internal error, nothing replayed; overwritten garbage: a warning, every line replayed', () => {
    const root = makeWorkRoot(tmpDir(), { engine: ENGINE });
    const rescue = path.join(root, 'data/rescue');
    const out = path.join(root, 'data/out_dat/app.json');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    const lock = path.join(rescue, 'recover.lock');
    mkdirSync(lock);
    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot read the replay checkpoint ${lock}: EISDIR`);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(outputNs(out)).toEqual([]);
    rmSync(lock, { recursive: true });
    writeFileSync(lock, Buffer.alloc(8192, 0x41));
    const again = cli('wprescue', ['batch', '-w', root]);
    expect(again.code, again.stderr).toBe(0);
    expect(outputNs(out)).toEqual(range(0, 10));
    expect(readFileSync(path.join(root, 'data/logs/wprescue.log'), 'utf8')).toMatch(/recover.lock unreadable/);
  });
});

describe('wprescue daemon and symlinks in the rescue directory', () => {
  it('a symlink loop and a link back to the root: no crash; a file released later is found by the watcher and replayed once', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: 'recovery: { scan_interval_ms: 600000 }\nperformance: { rate_limit_rps: 0 }\n' });
    const rescue = path.join(root, 'data/rescue');
    mkdirSync(path.join(rescue, 'app'), { recursive: true });
    symlinkSync('self', path.join(rescue, 'app', 'self')); // ELOOP on stat
    symlinkSync(rescue, path.join(rescue, 'app', 'root')); // every file again under app/root/...
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    const logFile = path.join(root, 'data/logs/wprescue.log');
    await until(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('rescue directory watched'), 20_000);
    const out = path.join(root, 'data/out_dat/app.json');
    // released while it runs, once the watch is in place: only the watcher can find it (the rescan is ten minutes away)
    const f = writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10), { locked: true });
    renameSync(f, f.slice(0, -'.lock'.length));
    await until(() => outputNs(out).length === 10 || d.child.exitCode !== null, 20_000);
    await until(() => !existsSync(f.slice(0, -'.lock'.length)) || d.child.exitCode !== null, 20_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code, d.stderr()).toBe(0);
    expect(d.stderr()).not.toMatch(/\n\s+at /);
    expect(outputNs(out)).toEqual(range(0, 10));
    expect(existsSync(path.join(rescue, 'dead'))).toBe(false); // nothing quarantined under a second id
  }, 60_000);

  it('wproj rescue stat and data clean beside a symlink loop and a link back to the root: each file counted once, no internal error', () => {
    const root = makeWorkRoot(tmpDir(), { engine: ENGINE });
    const rescue = path.join(root, 'data/rescue');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    symlinkSync('self', path.join(rescue, 'app', 'self'));
    symlinkSync(rescue, path.join(rescue, 'app', 'root'));
    const st = cli('wproj', ['rescue', 'stat', '--json', '-w', root]);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ totalFiles: 1, totalLines: 10 });
    const dry = cli('wproj', ['data', 'clean', '--dry-run', '-w', root]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/unreplayed rescue data: 1 rescue file\(s\) \(10 lines\)/);
    const clean = cli('wproj', ['data', 'clean', '--force', '-w', root]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(existsSync(path.join(rescue, 'app'))).toBe(false);
  });
});

describe('wparse spilling while data/rescue is removed', () => {
  it('the lines written to the removed file are not lost: the release writes them to a new file (was: internal error ENOENT, every line after the rm lost)', async () => {
    const port = await freePort();
    const root = makeWorkRoot(tmpDir(), {
      input: makeInput(1000),
      engine: `rescue: { durability: fsync }\nmetrics: { wparse: { listen: "127.0.0.1:${port}" } }\n`,
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: down\n      connect: rescue_json\n      params: { file: down.json, stages: [{ unhealthy: forever }] }\n' },
    });
    const rescue = path.join(root, 'data/rescue');
    const parsed = (a: number, b: number): number[] => range(a, b).filter((i) => i % 11 !== 10);
    const rescued = async (): Promise<number> => {
      const line = (await httpGet(port, '/metrics')).body.split('\n').find((l) => l.startsWith('wparse_rescue_lines_total{group="app",sink="down"} '));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => existsSync(rescue) && rescueNs(rescue).length === parsed(0, 1000).length, 20_000);
    rmRf(rescue);
    appendFileSync(path.join(root, 'data/in_dat/input.log'), makeInput(500, 1000));
    for (let n = 0; n < parsed(0, 1500).length; n = await rescued()) await new Promise((r) => setTimeout(r, 50));
    d.child.kill('SIGTERM');
    const exit = await d.exit;
    expect(exit.code, d.stderr()).toBe(0);
    // the lines before the rm come back with them: they share the removed file, and keeping them loses nothing
    expect(compareNs(parsed(0, 1500), rescueNs(rescue))).toEqual({ missing: [], duplicates: 0 });
  }, 60_000);
});

describe('wprescue and a .dat that is not a regular file', () => {
  it('a FIFO named like a rescue file is quarantined unread with a reason; the rest replays and batch exits 1 (was: hung in open(), deaf to SIGTERM)', () => {
    const root = makeWorkRoot(tmpDir(), { engine: ENGINE });
    const rescue = path.join(root, 'data/rescue');
    writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 10));
    const fifo = path.join(rescue, 'app', path.basename(writeRescueFile(rescue, 'app', 'main', T0 + 1000, 0, [])));
    rmSync(fifo);
    execFileSync('mkfifo', [fifo]);
    // and one as a writer's .dat.lock left without an owner long ago: salvaged, then quarantined
    const fifoLock = writeRescueFile(rescue, 'app', 'main', T0 + 2000, 0, [], { locked: true });
    rmSync(fifoLock);
    execFileSync('mkfifo', [fifoLock]);
    utimesSync(fifoLock, new Date(T0), new Date(T0));
    const stat = spawnSync(process.execPath, [bin('wproj'), 'rescue', 'stat', '--json', '-w', root], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    expect(stat.status, stat.stderr).toBe(0); // it hung reading the FIFO before
    expect((JSON.parse(stat.stdout) as { totalLines: number }).totalLines).toBe(10);
    const r = spawnSync(process.execPath, [bin('wprescue'), 'batch', '-w', root], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    expect(r.status, r.stderr).toBe(1);
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 10));
    expect(existsSync(fifo)).toBe(false);
    const dead = path.join(rescue, 'dead', 'app', path.basename(fifo));
    expect(readFileSync(`${dead}.reason`, 'utf8')).toMatch(/is not a regular file \(a FIFO, socket or device\): not read/);
    const deadLock = path.join(rescue, 'dead', 'app', path.basename(fifoLock, '.lock'));
    expect(readFileSync(`${deadLock}.reason`, 'utf8')).toMatch(/is not a regular file/);
    expect(existsSync(fifoLock)).toBe(false);
  });
});
