import { spawnSync } from 'node:child_process';
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
