#!/usr/bin/env node
import { Command } from 'commander';
import { say } from '../platform/logger.js';
import { runPipeline, type PipelineSummary } from '../pipeline/run-pipeline.js';
import { renderStatTable, renderTable } from './table.js';
import { addCommonHelp, openContext, stopSignal, workRootOption } from './context.js';
import { intOption, runMain } from './run.js';

interface RunOpts {
  workRoot: string;
  stat?: number;
  n?: number;
}

async function run(mode: 'batch' | 'daemon', opts: RunOpts): Promise<void> {
  let health: () => string | undefined = () => undefined;
  const ctx = await openContext(opts.workRoot, 'wparse', () => health());
  const signal = stopSignal((sig) => say(`wparse: ${sig}: stopping (releasing rescue files)`));
  const summary = await runPipeline({
    wr: ctx.wr,
    mode,
    signal,
    clock: ctx.clock,
    log: ctx.log,
    metrics: ctx.metrics,
    print: (t) => process.stdout.write(`${renderStatTable(t)}\n`),
    setHealth: (fn) => (health = fn),
    ...(opts.n !== undefined ? { maxLines: opts.n } : {}),
    ...(opts.stat !== undefined ? { statSec: opts.stat } : {}),
  });
  printSummary(summary);
  ctx.server?.close();
}

function printSummary(s: PipelineSummary): void {
  const rate = Math.round(s.linesIn / Math.max(s.seconds, 0.001));
  process.stdout.write(`wparse: done: ${s.linesIn} lines in ${s.seconds.toFixed(2)} s (${rate} lines/s), ${s.miss} miss, ${s.unrouted} unrouted\n`);
  const rows = s.sinks.map((x) => [x.key, x.delivered, x.rescued, x.rejected]);
  process.stdout.write(`${renderTable(['Sink', 'Delivered', 'Rescued', 'Rejected'], rows)}\n`);
  for (const f of s.released) process.stdout.write(`rescue file released: ${f}\n`);
  if (s.unrouted > 0) say(`wparse: warning: ${s.unrouted} line(s) had no destination (add miss/default/error infra groups to keep them)`);
}

function runCommand(name: 'batch' | 'daemon', description: string): Command {
  return addCommonHelp(
    new Command(name)
      .description(description)
      .addOption(workRootOption())
      .option('--stat <sec>', 'print per-sink counts and rates every SEC seconds', intOption('--stat', 1))
      .option('-n <max_lines>', 'stop after MAX_LINES input lines', intOption('-n', 0))
      .action((opts: RunOpts) => run(name, opts)),
  );
}

const program = new Command('wparse')
  .description('Read sources, parse lines with rules, route records to sink groups; sinks fail over to rescue files.')
  .addCommand(runCommand('batch', 'run sources to the end of input, then stop gracefully (rescue files released)'))
  .addCommand(runCommand('daemon', 'follow sources until SIGINT / SIGTERM / SIGUSR1'));

await runMain(program);
