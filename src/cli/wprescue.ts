#!/usr/bin/env node
import { Command } from 'commander';
import { loadWorkRoot } from '../config/work-root.js';
import { say } from '../platform/logger.js';
import { damageLines, enqueueFiles, queueStatus, repairQueue, requeueDead } from '../recovery/admin.js';
import { runRescue, type RescueSummary } from '../recovery/service.js';
import { addCommonHelp, addDaemonHelp, jsonDoc, resolveWorkRoot, workRootOption } from './context.js';
import { runService } from './daemon.js';
import { intOption, runMain } from './run.js';
import type { Progress } from '../platform/stat-table.js';
import { renderProgress, renderStatTable, renderTable } from './table.js';

interface RunOpts {
  workRoot?: string;
  stat?: number;
  rate?: number;
  metricsListen?: string;
}

async function replay(mode: 'batch' | 'daemon', opts: RunOpts): Promise<void> {
  const tty = mode === 'batch' && process.stderr.isTTY;
  const summary = await runService({
    cmd: 'wprescue',
    mode,
    workRoot: opts.workRoot,
    metricsListen: opts.metricsListen,
    stopping: 'stopping (in-flight jobs requeued, snapshot written)',
    combine: combineSummaries,
    run: (r) =>
      runRescue({
        wr: r.wr,
        mode,
        signal: r.signal,
        clock: r.clock,
        log: r.log,
        metrics: r.metrics,
        print: (t) => process.stdout.write(`${renderStatTable(t)}\n`),
        ...(tty ? { progress: (p: Progress) => process.stderr.write(`\r${renderProgress(p)}`) } : {}),
        setHealth: r.setHealth,
        ...(opts.stat !== undefined ? { statSec: opts.stat } : {}),
        ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
      }),
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(`wprescue: replayed ${summary.replayed} lines; salvaged ${summary.salvaged} file(s); ${summary.dead} dead job(s)\n`);
  for (const s of summary.sinks) {
    if (s.bad || s.skippedEmpty || s.rejected) process.stdout.write(`  ${s.key}: ${s.bad} invalid line(s) copied to dead/, ${s.skippedEmpty} empty line(s) skipped, ${s.rejected} rejected\n`);
  }
  if (summary.dead > 0) {
    say(`wprescue: ${summary.dead} dead job(s): see \`wprescue status\` and <rescue.path>/dead/*.reason; \`wprescue requeue --dead\` retries them`);
    // a daemon reports dead jobs (status, metrics, /healthz) but a clean stop is a success
    if (mode === 'batch') process.exitCode = 1;
  }
}

/** Two runs of one daemon (before and after a SIGHUP reload) as one; `dead` is the queue's count at the end. */
function combineSummaries(a: RescueSummary, b: RescueSummary): RescueSummary {
  const sinks = new Map(a.sinks.map((s) => [s.key, { ...s }]));
  for (const s of b.sinks) {
    const old = sinks.get(s.key);
    sinks.set(s.key, old ? { key: s.key, replayed: old.replayed + s.replayed, bad: old.bad + s.bad, skippedEmpty: old.skippedEmpty + s.skippedEmpty, rejected: old.rejected + s.rejected } : s);
  }
  return { replayed: a.replayed + b.replayed, salvaged: a.salvaged + b.salvaged, dead: b.dead, sinks: [...sinks.values()] };
}

function runCommand(name: 'batch' | 'daemon', description: string): Command {
  return addDaemonHelp(
    new Command(name)
      .description(description)
      .addOption(workRootOption())
      .option('--stat <sec>', 'print per-sink lines, rate, backlog and ETA every SEC seconds', intOption('--stat', 1))
      .option('--metrics-listen <addr>', 'serve /metrics and /healthz on HOST:PORT (overrides metrics.wprescue.listen)')
      .option('--rate <n>', 'replay rate in lines/s across the process (0 = unlimited); overrides performance.rate_limit_rps', intOption('--rate', 0))
      .action((opts: RunOpts) => replay(name, opts)),
  );
}

const program = new Command('wprescue').description('Replay rescue files exactly once into the sink they came from, on a crash-safe job queue.');
program.addCommand(runCommand('batch', 'replay every released rescue file; exit after recovery.idle_exit_ms with nothing to do (exit 1 if any job ended dead)'));
program.addCommand(runCommand('daemon', 'watch the rescue directory and replay until SIGINT / SIGTERM (exit 0 even with dead jobs); SIGHUP reloads the config'));
program.addCommand(
  addCommonHelp(
    new Command('status')
      .description('job counts per state and the jobs in each (reads the queue without the lock; works beside a running daemon)')
      .addOption(workRootOption())
      .option('--json', 'machine-readable output')
      .action((opts: { workRoot?: string; json?: boolean }) => {
        const st = queueStatus(loadWorkRoot(resolveWorkRoot(opts.workRoot)));
        if (opts.json) return void process.stdout.write(`${jsonDoc('wprescue status', st)}\n`);
        const c = st.counts;
        process.stdout.write(`queue ${st.queueDir}: pending ${c.pending}, in_flight ${c.in_flight}, completed ${c.completed}, dead ${c.dead}\n`);
        const rows = (['pending', 'in_flight', 'dead'] as const).flatMap((s) => st.jobs[s].map((j) => [s, j.id, j.attempt, j.lastError ?? '']));
        if (rows.length) process.stdout.write(`${renderTable(['State', 'Job', 'Attempts', 'Last error'], rows)}\n`);
        for (const line of damageLines(st)) process.stdout.write(`${line}\n`);
      }),
  ),
);
program.addCommand(
  addCommonHelp(
    new Command('enqueue')
      .description('add released rescue files (inside rescue.path, not under dead/: see requeue --dead) to the queue by hand')
      .addOption(workRootOption())
      .argument('<file...>', 'rescue .dat files')
      .action(async (files: string[], opts: { workRoot?: string }) => {
        for (const r of await enqueueFiles(loadWorkRoot(resolveWorkRoot(opts.workRoot)), files)) {
          process.stdout.write(`${r.added ? 'enqueued' : 'already queued'}: ${r.id}\n`);
        }
      }),
  ),
);
program.addCommand(
  addCommonHelp(
    new Command('requeue')
      .description('give dead jobs (and their quarantined files) another run')
      .addOption(workRootOption())
      .requiredOption('--dead', 'requeue every dead job')
      .action(async (opts: { workRoot?: string }) => {
        const ids = await requeueDead(loadWorkRoot(resolveWorkRoot(opts.workRoot)));
        process.stdout.write(`requeued ${ids.length} dead job(s)${ids.length ? `: ${ids.join(', ')}` : ''}\n`);
      }),
  ),
);
program.addCommand(
  new Command('queue').description('queue maintenance').addCommand(
    addCommonHelp(
      new Command('repair')
        .description(
          'drop damaged WAL records (each segment is copied to .broken first; optional: a start sets damaged records aside by itself); ' +
            'a state no start can rebuild (both snapshots unreadable) is set aside whole, and the next start rebuilds the queue from the rescue directory',
        )
        .addOption(workRootOption())
        .action(async (opts: { workRoot?: string }) => {
          const r = await repairQueue(loadWorkRoot(resolveWorkRoot(opts.workRoot)));
          if (r.reset) {
            process.stdout.write(`queue state set aside (${r.reset.reason}): ${r.reset.setAside.length} file(s) renamed *.damaged-<ms>; the next start rebuilds the queue from the rescue directory (replay positions are kept in recover.lock; files in dead/ stay there)\n`);
            return;
          }
          if (r.repaired.length === 0) process.stdout.write(`queue: ${r.segments} segment(s), nothing to repair\n`);
          for (const x of r.repaired) process.stdout.write(`repaired ${x.file}: dropped ${x.droppedLines} damaged record(s) and ${x.droppedTornBytes} torn byte(s); backup ${x.backup}\n`);
        }),
    ),
  ),
);

await runMain(program);
