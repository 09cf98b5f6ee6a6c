import { existsSync, statSync } from 'node:fs';
import { expect } from 'vitest';
import { bin } from './cli.js';
import { startNode } from './child.js';

/**
 * Runs `wprescue batch` on `root` until it finishes, killing the first `killRuns` runs with SIGKILL
 * once `outFile` has grown to a random point of what is left of `totalBytes` (event-driven: the
 * output's size, not a timer). Returns how many runs were killed; the last run must exit 0.
 */
export async function replayWithKills(root: string, outFile: string, totalBytes: number, rand: () => number, killRuns = 4): Promise<number> {
  const outSize = (): number => (existsSync(outFile) ? statSync(outFile).size : 0);
  let kills = 0;
  for (let attempt = 0; attempt < 30; attempt++) {
    const c = startNode(bin('wprescue'), ['batch', '-w', root]);
    if (attempt < killRuns) {
      const from = outSize();
      const target = from + rand() * (totalBytes - from);
      let exited = false;
      void c.exit.then(() => (exited = true));
      while (!exited && outSize() < target) await new Promise((r) => setTimeout(r, 1));
      c.child.kill('SIGKILL');
    }
    const { code, signal } = await c.exit;
    if (signal === 'SIGKILL') {
      kills++;
      continue;
    }
    expect(code, c.stderr()).toBe(0);
    return kills;
  }
  throw new Error('wprescue batch did not finish in 30 runs');
}
