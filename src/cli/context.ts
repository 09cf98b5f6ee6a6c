import path from 'node:path';
import type { Server } from 'node:http';
import { Option, type Command } from 'commander';
import { loadWorkRoot, requireWorkRoot, type WorkRoot } from '../config/work-root.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { startMetricsServer } from '../metrics/server.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { createFileLogger, type Logger } from '../platform/logger.js';

/** What every command that runs a job needs, built once from `-w`. */
export interface CommandContext {
  wr: WorkRoot;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  server?: Server;
}

export function workRootOption(): Option {
  return new Option('-w, --work-root <dir>', 'work root').default('.');
}

export function resolveWorkRoot(opt: string | undefined): string {
  const root = path.resolve(opt ?? '.');
  requireWorkRoot(root);
  return root;
}

export async function openContext(workRoot: string, cmd: string, health?: () => string | undefined): Promise<CommandContext> {
  const wr = loadWorkRoot(resolveWorkRoot(workRoot));
  const log = createFileLogger(path.resolve(wr.root, wr.engine.log.file), cmd, wr.engine.log.level);
  const metrics = createMetrics();
  const ctx: CommandContext = { wr, log, metrics, clock: systemClock };
  if (wr.engine.metrics.listen) ctx.server = await startMetricsServer(wr.engine.metrics.listen, metrics.registry, health ?? (() => undefined));
  return ctx;
}

/** SIGINT / SIGTERM / SIGUSR1 abort the returned signal (a graceful stop); a second SIGINT exits at once. */
export function stopSignal(onStop?: (sig: string) => void): AbortSignal {
  const ac = new AbortController();
  let count = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGUSR1'] as const) {
    process.on(sig, () => {
      count++;
      if (count > 1 && sig === 'SIGINT') process.exit(130);
      onStop?.(sig);
      ac.abort();
    });
  }
  return ac.signal;
}

export function addCommonHelp(cmd: Command): Command {
  return cmd.addHelpText(
    'after',
    '\nExit codes: 0 success, 1 the job ran but failed, 2 usage or config error, 3 runtime error.\nLogs: JSON lines in log.file (conf/wparse.yaml), default ./data/logs/<command>.log.',
  );
}
