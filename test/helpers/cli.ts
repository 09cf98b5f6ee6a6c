import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const bin = (name: 'wparse' | 'wprescue' | 'wproj' | 'wpgen'): string => path.join(ROOT, 'dist', 'cli', `${name}.js`);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built CLI to completion. */
export function cli(name: 'wparse' | 'wprescue' | 'wproj' | 'wpgen', args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [bin(name), ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs a built CLI to completion without blocking this process's event loop: needed when the test
 * itself serves what the command talks to (a TCP or HTTP listener in the test process).
 */
export function cliAsync(name: 'wparse' | 'wprescue' | 'wproj' | 'wpgen', args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin(name), ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
