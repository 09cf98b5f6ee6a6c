import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { markAlive, pidAlive, pidNamespace, processMark, processStartTime } from '../../src/platform/pid-alive.js';
import { until } from '../helpers/until.js';

describe('pidAlive', () => {
  it('a running process is alive; its unreaped (zombie) child is not; a reaped one is not', async () => {
    // sh starts a child that exits only once sh has become `sleep`, which never reaps it: a zombie.
    // (A child that exits at once may be reaped by sh itself before the exec.)
    const script = 'p=$$; (while read c < /proc/$p/comm; [ "$c" != sleep ]; do :; done) & echo $!; exec sleep 30';
    const parent = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('\n'), 10_000);
    const zombie = Number(out.trim());
    const state = (): string => {
      const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    };
    await until(() => state() === 'Z', 10_000);
    expect([pidAlive(parent.pid!), pidAlive(zombie)]).toEqual([true, false]);
    const exited = new Promise((r) => parent.on('exit', r));
    parent.kill('SIGKILL');
    await exited;
    expect(pidAlive(parent.pid!)).toBe(false);
  });

  it('a mark names one process for good: the same pid started at another time (a reused pid) is not it', () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    expect(processMark()).toBe(`${process.pid} ${pidNamespace()} ${start}\n`);
    expect(markAlive(processMark())).toBe(true);
    expect(markAlive(`${process.pid} ${pidNamespace()} ${Number(start) + 1}\n`)).toBe(false);
    expect(markAlive(`${process.pid} ${pidNamespace()}\n`)).toBe(true); // the older form: pid alone decides
    expect(markAlive(`${process.pid} pid:[1] ${start}\n`)).toBeUndefined(); // another namespace: cannot tell
    // read while being written: a start time without its newline may be cut short, so it is not trusted
    expect(markAlive(`${process.pid} ${pidNamespace()} ${String(start).slice(0, -1)}`)).toBe(true);
  });
});
