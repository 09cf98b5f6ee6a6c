#!/usr/bin/env node
import { Command } from 'commander';
import { say } from '../platform/logger.js';
import { PipelineHealth } from '../pipeline/health.js';
import { runPipeline, type PipelineSummary } from '../pipeline/run-pipeline.js';
import { renderStatTable, renderTable } from './table.js';
import { addDaemonHelp, workRootOption } from './context.js';
import { runService } from './daemon.js';
import { intOption, runMain } from './run.js';

interface RunOpts {
  workRoot?: string;
  stat?: number;
  n?: number;
  metricsListen?: string;
}

async function run(mode: 'batch' | 'daemon', opts: RunOpts): Promise<void> {
  const summary = await runService({
    cmd: 'wparse',
    mode,
    workRoot: opts.workRoot,
    metricsListen: opts.metricsListen,
    stopping: 'stopping (releasing rescue files)',
    combine: combineSummaries,
    run: (r) => {
      const health = new PipelineHealth(r.clock);
      r.setHealth((stallMs) => health.problem(stallMs));
      return runPipeline({
        wr: r.wr,
        mode,
        signal: r.signal,
        clock: r.clock,
        log: r.log,
        metrics: r.metrics,
        health,
        print: (t) => process.stdout.write(`${renderStatTable(t)}\n`),
        ...(opts.n !== undefined ? { maxLines: opts.n } : {}),
        ...(opts.stat !== undefined ? { statSec: opts.stat } : {}),
      });
    },
  });
  printSummary(summary);
}

/** Two runs of one daemon (before and after a SIGHUP reload) as one: counts added, sinks by key. */
function combineSummaries(a: PipelineSummary, b: PipelineSummary): PipelineSummary {
  const sinks = new Map(a.sinks.map((s) => [s.key, { ...s }]));
  for (const s of b.sinks) {
    const old = sinks.get(s.key);
    // a sink the reload removed keeps its earlier counts; one it kept carries its current state
    sinks.set(s.key, old ? { ...s, delivered: old.delivered + s.delivered, rescued: old.rescued + s.rescued, rejected: old.rejected + s.rejected } : s);
  }
  return {
    linesIn: a.linesIn + b.linesIn,
    miss: a.miss + b.miss,
    unrouted: a.unrouted + b.unrouted,
    seconds: a.seconds + b.seconds,
    sinks: [...sinks.values()],
    released: [...a.released, ...b.released],
  };
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
  return addDaemonHelp(
    new Command(name)
      .description(description)
      .addOption(workRootOption())
      .option('--stat <sec>', 'print per-sink counts and rates every SEC seconds', intOption('--stat', 1))
      .option('-n <max_lines>', 'stop after MAX_LINES input lines', intOption('-n', 0))
      .option('--metrics-listen <addr>', 'serve /metrics and /healthz on HOST:PORT (overrides metrics.wparse.listen)')
      .action((opts: RunOpts) => run(name, opts)),
  );
}

const program = new Command('wparse')
  .description('Read sources, parse lines with rules, route records to sink groups; sinks fail over to rescue files.')
  .addCommand(runCommand('batch', 'run sources to the end of input, then stop gracefully (rescue files released)'))
  .addCommand(runCommand('daemon', 'follow sources until SIGINT / SIGTERM; SIGHUP reloads the config'));

await runMain(program);
