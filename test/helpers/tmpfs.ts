import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterEach } from 'vitest';
// tmp.ts's clean-up must run after the unmount below: hooks run last-registered first
import './tmp.js';

const mounted: string[] = [];

afterEach(() => {
  // lazy: the child helper kills a daemon left by a failed test after this hook has run
  for (const m of mounted.splice(0)) execFileSync('umount', ['-l', m]);
});

/** Mounts a small tmpfs at `dir` where this machine allows it (root in its sandbox); false elsewhere. */
export function smallTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  mounted.push(dir);
  return true;
}
