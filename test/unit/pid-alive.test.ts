import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/platform/pid-alive.js';
import { until } from '../helpers/until.js';

describe('pidAlive', () => {
  it('a running process is alive; its unreaped (zombie) child is not; a reaped one is not', async () => {
    // sh starts `true` in the background and becomes `sleep`, which never reaps it: a zombie
    const parent = spawn('sh', ['-c', 'true & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('\n'), 10_000);
    const zombie = Number(out.trim());
    await until(() => / Z /.test(readFileSync(`/proc/${zombie}/stat`, 'utf8').slice(readFileSync(`/proc/${zombie}/stat`, 'utf8').lastIndexOf(')'))), 10_000);
    expect([pidAlive(parent.pid!), pidAlive(zombie)]).toEqual([true, false]);
    const exited = new Promise((r) => parent.on('exit', r));
    parent.kill('SIGKILL');
    await exited;
    expect(pidAlive(parent.pid!)).toBe(false);
  });
});
