import { bin, type CliResult } from './cli.js';
import { startNode } from './child.js';

/**
 * Runs a built CLI to completion without blocking the event loop, for tests whose backend (an
 * HTTP collector) lives in the test process: `cli()` uses spawnSync and would starve it.
 */
export async function runCli(name: 'wparse' | 'wprescue' | 'wproj' | 'wpgen', args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const c = startNode(bin(name), args, { env });
  const { code } = await c.exit;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}
