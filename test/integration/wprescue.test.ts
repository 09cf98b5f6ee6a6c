import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli, ROOT } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { fileLines, outputNs, rescueFilesIn } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeWorkRoot } from '../helpers/work-root.js';
import { RecoverCheckpoint } from '../../src/recovery/checkpoint.js';

const FAST = 'recovery: { idle_exit_ms: 300, scan_interval_ms: 100, workers: 2, max_retry: 2 }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\nperformance: { rate_limit_rps: 0 }\n';

const twoGroups = (order: 'oldest' | 'newest'): Parameters<typeof makeWorkRoot>[1] => ({
  engine: `${FAST.replace('workers: 2', 'workers: 1')}recovery_order_placeholder: x\n`.replace('recovery_order_placeholder: x\n', '').replace('recovery: {', `recovery: { order: ${order},`),
  groups: {
    a: 'group:\n  name: a\n  rule: ["/app/*"]\n  sinks:\n    - name: my-sink\n      connect: file_json\n      params: { file: a-my-sink.json }\n    - name: other\n      connect: file_json\n      params: { file: a-other.json }\n',
    'nested/deep/b': 'group:\n  name: b\n  rule: ["/app/json"]\n  sinks:\n    - name: x\n      connect: file_json\n      params: { file: b-x.json }\n',
  },
});

describe('wprescue batch', () => {
  for (const order of ['oldest', 'newest'] as const) {
    it(`replays several files of several sinks into exactly their sink, order ${order}, sink names with '-', nested group files`, () => {
      const root = makeWorkRoot(tmpDir(), twoGroups(order));
      const rescue = path.join(root, 'data/rescue');
      writeRescueFile(rescue, 'a', 'my-sink', T0 + 2000, 0, range(200, 300));
      writeRescueFile(rescue, 'a', 'my-sink', T0, 0, range(0, 100));
      writeRescueFile(rescue, 'a', 'my-sink', T0, 1, range(100, 200));
      writeRescueFile(rescue, 'a', 'other', T0, 0, range(1000, 1050));
      writeRescueFile(rescue, 'b', 'x', T0, 0, range(2000, 2010));
      const r = cli('wprescue', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
      const mine = outputNs(path.join(root, 'data/out_dat/a-my-sink.json'));
      const files = order === 'oldest' ? [range(0, 100), range(100, 200), range(200, 300)] : [range(200, 300), range(100, 200), range(0, 100)];
      expect(mine).toEqual(files.flat());
      expect(outputNs(path.join(root, 'data/out_dat/a-other.json'))).toEqual(range(1000, 1050));
      expect(outputNs(path.join(root, 'data/out_dat/b-x.json'))).toEqual(range(2000, 2010));
      expect(rescueFilesIn(rescue)).toEqual([]);
      expect(RecoverCheckpoint.read(path.join(rescue, 'recover.lock'))).toEqual({});
    });
  }

  it('bad inputs: each gets its own outcome and the rest goes on', () => {
    const root = makeWorkRoot(tmpDir(), twoGroups('oldest'));
    const rescue = path.join(root, 'data/rescue');
    const good = writeRescueFile(rescue, 'a', 'my-sink', T0, 0, range(0, 10), { extra: '\n\n{"version":1,"kind":"record","id":"x","record":{"n":10}}\nnot json at all\n{"version":2,"kind":"record","id":"y","record":{}}\n' });
    writeRescueFile(rescue, 'a', 'nosuch', T0, 0, [1]);
    mkdirSync(path.join(rescue, 'a'), { recursive: true });
    writeFileSync(path.join(rescue, 'a', 'garbage.dat'), 'x\n');
    writeFileSync(path.join(rescue, 'a', '..evil-2026-11-22_10:00:00-0.dat'), 'x\n');
    writeFileSync(path.join(rescue, 'a', 'other-2026-11-22_10:00:00-0.dat'), ''); // empty file
    // stale .lock: its owner (a finished process) is gone; its last line is torn
    const stale = writeRescueFile(rescue, 'a', 'other', T0, 1, range(500, 505), { locked: true, extra: '{"version":1,"kind":"rec' });
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    mkdirSync(`${stale}.owner`);
    // live .lock: owned by this (live) process
    const live = writeRescueFile(rescue, 'b', 'x', T0, 0, [900], { locked: true });
    mkdirSync(`${live}.owner`);
    writeFileSync(`${live}.owner.pid`, String(process.pid));
    // owner locks with no file: a writer killed between claiming a name and creating it, one live there
    const orphan = path.join(rescue, 'a', 'other-2026-11-22_10:00:00-7.dat.lock.owner');
    const claimed = path.join(rescue, 'b', 'x-2026-11-22_10:00:00-7.dat.lock.owner');
    mkdirSync(orphan);
    mkdirSync(claimed);
    writeFileSync(`${claimed}.pid`, String(process.pid));
    return new Promise<void>((resolve) => dead.on('exit', () => resolve())).then(() => {
      writeFileSync(`${stale}.owner.pid`, String(deadPid));
      writeFileSync(`${orphan}.pid`, String(deadPid));
      const r = cli('wprescue', ['batch', '-w', root]);
      expect(r.code).toBe(1); // dead jobs
      expect(r.stdout).toMatch(/salvaged 1 file/);
      expect(outputNs(path.join(root, 'data/out_dat/a-my-sink.json'))).toEqual(range(0, 11));
      expect(outputNs(path.join(root, 'data/out_dat/a-other.json'))).toEqual(range(500, 505)); // torn line dropped
      expect(existsSync(good)).toBe(false);
      const bad = fileLines(path.join(rescue, 'dead/a', `${path.basename(good)}.bad.jsonl`)).map((l) => JSON.parse(l) as { line: number; reason: string });
      expect(bad.map((b) => b.line)).toEqual([14, 15]);
      expect(bad[1]!.reason).toMatch(/missing crc/); // a version 2 line must carry its CRC
      for (const name of ['nosuch-2026-11-22_10:00:00-0.dat', 'garbage.dat', '..evil-2026-11-22_10:00:00-0.dat']) {
        expect(existsSync(path.join(rescue, 'dead/a', name))).toBe(true);
        expect(readFileSync(path.join(rescue, 'dead/a', `${name}.reason`), 'utf8')).toMatch(/no sink nosuch in group a|does not parse/);
      }
      expect(existsSync(live)).toBe(true); // a live writer's file is never touched
      expect([existsSync(orphan), existsSync(`${orphan}.pid`), existsSync(claimed)]).toEqual([false, false, true]);
      expect([existsSync(`${stale}.owner`), existsSync(`${stale}.owner.pid`)]).toEqual([false, false]); // salvaged: owner gone too
      const st = JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as { counts: Record<string, number> };
      expect(st.counts).toMatchObject({ dead: 3, pending: 0, in_flight: 0 });
    });
  });

  it('a second wprescue on the same rescue directory exits 2 naming the holder', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => existsSync(path.join(root, 'data/rescue/.wprescue.pid')), 10_000);
    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`pid ${d.child.pid}`);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
  });

  it('target down then up: the job retries with backoff and completes; down past max_retry: dead and quarantined', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r())); // the port is now closed: target down
    const groups = { t: `group:\n  name: t\n  rule: ["/app/*"]\n  sinks:\n    - name: net\n      connect: tcp_json\n      params: { port: ${port} }\n` };
    // enough retries that a loaded machine cannot reach dead before the target comes up
    const root = makeWorkRoot(tmpDir(), { engine: FAST.replace('max_retry: 2', 'max_retry: 100000'), groups });
    writeRescueFile(path.join(root, 'data/rescue'), 't', 'net', T0, 0, range(0, 300));
    const child = startNode(bin('wprescue'), ['batch', '-w', root]);
    await until(() => /"attempt":[1-9]/.test(JSON.stringify(JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout))), 20_000); // failed at least once
    let received = '';
    const up = net.createServer((s) => s.on('data', (d: Buffer) => (received += d.toString())));
    await new Promise<void>((r) => up.listen(port, '127.0.0.1', () => r()));
    expect((await child.exit).code).toBe(0);
    // the kernel took every line before wprescue exited; this listener may not have read them all yet
    await until(() => received.split('\n').length > 300, 10_000);
    expect(received.trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n)).toEqual(range(0, 300));
    await new Promise<void>((r) => up.close(() => r()));

    const root2 = makeWorkRoot(tmpDir(), { engine: FAST, groups });
    const f = writeRescueFile(path.join(root2, 'data/rescue'), 't', 'net', T0, 0, range(0, 5));
    const r = cli('wprescue', ['batch', '-w', root2]);
    expect(r.code).toBe(1);
    const q = path.join(root2, 'data/rescue/dead/t', path.basename(f));
    expect(existsSync(q)).toBe(true);
    expect(readFileSync(`${q}.reason`, 'utf8')).toMatch(/unavailable/);
    // requeue --dead gives it another run (still down: dead again)
    expect(cli('wprescue', ['requeue', '--dead', '-w', root2]).stdout).toMatch(/requeued 1 dead job/);
    expect(existsSync(f)).toBe(true);
  });

  it('end to end: wparse with an outage, then wprescue: every sink equals a run without outage', () => {
    const uc = path.join(ROOT, 'usecase/core/sink_recovery');
    const copy = (name: string): string => {
      const d = path.join(tmpDir(), name);
      for (const part of ['conf', 'sink', 'models']) cpSync(path.join(uc, part), path.join(d, part), { recursive: true });
      return d;
    };
    const outage = copy('outage');
    const calm = copy('calm');
    writeFileSync(path.join(calm, 'sink/business.d/benchmark.yaml'), readFileSync(path.join(calm, 'sink/business.d/benchmark.yaml'), 'utf8').replace(/stages: .*\n/, 'stages: [{ healthy: forever }]\n'));
    for (const d of [outage, calm]) {
      expect(cli('wpgen', ['sample', '-n', '20000', '-w', d]).code).toBe(0);
      const r = cli('wparse', ['batch', '-w', d]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(rescueFilesIn(path.join(outage, 'data/rescue')).length).toBeGreaterThan(0);
    const r = cli('wprescue', ['batch', '-w', outage]);
    expect(r.code, r.stderr).toBe(0);
    expect(rescueFilesIn(path.join(outage, 'data/rescue'))).toEqual([]);
    for (const f of readdirSync(path.join(calm, 'data/out_dat')).filter((n) => n !== 'monitor.dat')) {
      const want = fileLines(path.join(calm, 'data/out_dat', f)).sort();
      const got = fileLines(path.join(outage, 'data/out_dat', f)).sort();
      expect(got.length, f).toBe(want.length);
      expect(got, f).toEqual(want);
    }
  });
});
