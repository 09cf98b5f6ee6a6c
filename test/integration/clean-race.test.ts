import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

/**
 * Loaded into `wproj` (--require): at its first rmSync (the clean's first removal, after its
 * checks) it starts a wparse daemon on the work root and waits, blocking, until that one holds the
 * root (its pid file names it) or has exited (refused); it writes which to `outcome`.
 */
const PRELOAD = `
const fs = require('node:fs');
const cp = require('node:child_process');
const { syncBuiltinESMExports } = require('node:module');
const [wparse, root, outcome] = JSON.parse(process.env.CLEAN_RACE);
const rmSync = fs.rmSync;
let fired = false;
fs.rmSync = function (...args) {
  if (!fired) {
    fired = true;
    const child = cp.spawn(process.execPath, [wparse, 'daemon', '-w', root], { stdio: 'ignore', detached: true, env: { ...process.env, NODE_OPTIONS: '' } });
    const pidFile = root + '/data/.run/wparse.pid';
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 30000;
    let result = 'timeout';
    while (Date.now() < deadline) {
      let state = '';
      try { state = fs.readFileSync('/proc/' + child.pid + '/stat', 'utf8').split(') ')[1][0]; } catch {}
      if (state === 'Z' || state === '') { result = 'refused'; break; }
      let mark = '';
      try { mark = fs.readFileSync(pidFile, 'utf8'); } catch {}
      if (mark.startsWith(child.pid + ' ')) { result = 'held'; break; }
      Atomics.wait(nap, 0, 0, 20);
    }
    fs.writeFileSync(outcome, result + ' ' + child.pid);
    child.unref();
  }
  return rmSync.apply(this, args);
};
syncBuiltinESMExports();
`;

describe('wproj data clean racing a wparse start', () => {
  it('a wparse started after the clean looked for one is refused: the clean holds the work root while it removes', () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(50) });
    const work = tmpDir();
    const preload = path.join(work, 'preload.cjs');
    const outcome = path.join(work, 'outcome');
    writeFileSync(preload, PRELOAD);
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0); // outputs and run state to clean
    const r = cli('wproj', ['data', 'clean', '-w', root], { env: { NODE_OPTIONS: `--require ${preload}`, CLEAN_RACE: JSON.stringify([bin('wparse'), root, outcome]) } });
    const [result, pid] = readFileSync(outcome, 'utf8').split(' ');
    if (result === 'held') process.kill(Number(pid), 'SIGKILL'); // not left running by a failing run
    expect([r.code, r.stderr]).toEqual([0, '']);
    // before: the wparse took the root between the clean's look and its removals, and the clean then
    // removed its lock, its pid and its checkpoints under it (its later output into deleted files)
    expect(result).toBe('refused');
    expect(existsSync(path.join(root, 'data/.run/wparse.lock'))).toBe(false);
  }, 60_000);
});
