import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';

export interface RunningChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: RunningChild[] = [];

// A test that fails half-way must not leave a daemon running (or a mount busy).
afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
    c.child.kill('SIGKILL');
    await c.exit;
  }
});

/** Starts `node <script> ...args` and collects its output; killed after the test if still running. */
export function startNode(script: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; prefix?: string[] } = {}): RunningChild {
  // `prefix`: a command node runs under (e.g. setpriv dropping a capability)
  const [cmd, ...pre] = [...(opts.prefix ?? []), process.execPath];
  const child = spawn(cmd, [...pre, script, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const running = { child, stdout: () => out, stderr: () => err, exit };
  started.push(running);
  return running;
}

/** Resolves when the child's stdout has printed `count` lines, or it exited. */
export function whenLines(c: RunningChild, count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (c.stdout().split('\n').length - 1 >= count) resolve();
    };
    c.child.stdout!.on('data', check);
    void c.exit.then(() => resolve());
    check();
  });
}

/** A seeded PRNG (mulberry32) so failing crash runs can be replayed from the seed in the test name. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
