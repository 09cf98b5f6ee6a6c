#!/usr/bin/env node
import path from 'node:path';
import { Command } from 'commander';
import { collectWorkRoot, loadWorkRoot } from '../config/work-root.js';
import { formatProblem, type Problem } from '../platform/schema.js';
import { WrError } from '../errors.js';
import { lockRescueDir } from '../recovery/dir-lock.js';
import { configWarnings } from '../proj/config-warnings.js';
import { natsInit, natsStreamPlans } from '../proj/nats-init.js';
import { rescueStat } from '../proj/rescue-stat.js';
import { cleanData, initWorkRoot } from '../proj/scaffold.js';
import { lockWparse, wparseHolder } from '../proj/wparse-lock.js';
import { sinkCounts, sourceCounts } from '../proj/stat.js';
import { fmtNum, validateSinks } from '../proj/validate.js';
import { addCommonHelp, jsonDoc, resolveWorkRoot, workRootOption, workRootPath } from './context.js';
import { intOption, runMain } from './run.js';
import { renderTable } from './table.js';

const out = (t: string): boolean => process.stdout.write(`${t}\n`);
const short = (p: string): string => {
  const parts = p.split(path.sep);
  return parts.length > 4 ? `.../${parts.slice(-3).join('/')}` : p;
};

/** A path as the shell must see it, so the `next:` line can be pasted whatever the path holds (spaces). */
const shellQuote = (p: string): string => (/^[\w./:@%+=,-]+$/.test(p) ? p : `'${p.replaceAll("'", `'\\''`)}'`);

type Part = 'file' | 'src-file' | 'sink-file';

function stat(part: Part, opts: { workRoot?: string; json?: boolean }): void {
  const wr = loadWorkRoot(resolveWorkRoot(opts.workRoot));
  const src = sourceCounts(wr);
  const sink = sinkCounts(wr);
  if (opts.json) {
    const data = part === 'file' ? { src, sink } : part === 'src-file' ? src : sink;
    return void out(jsonDoc(`wproj stat ${part}`, data));
  }
  if (part !== 'sink-file') {
    out('== Sources ==');
    out(renderTable(['Key', 'Enabled', 'Lines', 'Path', 'Error'], src.items.map((s) => [s.key, s.enabled ? 'Y' : 'N', s.lines, short(s.path), s.error ?? '-'])));
    out(`Total enabled lines: ${src.total}`);
  }
  if (part !== 'src-file') {
    out('== Sinks ==');
    out(renderTable(['Scope', 'Sink', 'Path', 'Lines'], sink.items.map((s) => [s.scope, `${s.group}/${s.sink}`, short(s.path), s.lines])));
    for (const u of sink.uncounted) out(`${u.group}/${u.sink}: a ${u.type} sink has no file to count`);
    out(`Total lines: ${sink.total}`);
  }
}

function statCommand(part: Part): Command {
  return addCommonHelp(new Command(part))
    .description(part === 'file' ? 'sources and sinks' : part === 'src-file' ? 'enabled file sources only' : 'file and test_rescue sink outputs only')
    .addOption(workRootOption())
    .option('--json', 'machine-readable output')
    .action((opts: { workRoot?: string; json?: boolean }) => stat(part, opts));
}

const program = new Command('wproj').description('Inspect a work root: line counts, expect validation, rescue backlog, config checks.');

/** `wproj stat --help` showed only the subcommands: the flags of the default one are what a user types next. */
const defaultFlags = (sub: string, flags: string): string => `\nWithout a subcommand this runs \`${sub}\`, whose options (${flags}) may be given here too; see \`${sub} --help\`.`;

program.addCommand(addCommonHelp(new Command('stat').description('line counts of sources and sink outputs (a missing file counts 0)').addHelpText('after', defaultFlags('wproj stat file', '-w DIR, --json')).addCommand(statCommand('file'), { isDefault: true }).addCommand(statCommand('src-file')).addCommand(statCommand('sink-file'))));

program.addCommand(
  new Command('validate').description('check sink outputs against their expects (wproj validate alone runs validate sink-file)').addHelpText('after', defaultFlags('wproj validate sink-file', '-w DIR, -v, --input-cnt N, --json')).addCommand(
    addCommonHelp(
      new Command('sink-file')
        .description('ratio±tol, [min,max], min_samples, others_max, sum_tol per group; exit 0 PASS/WARN, 1 FAIL')
        .addOption(workRootOption())
        .option('-v, --verbose', 'list every sink, including those without an expect')
        .option('--input-cnt <n>', 'total input lines (default: line count of the enabled file sources)', intOption('--input-cnt', 0))
        .option('--json', 'machine-readable output')
        .action((opts: { workRoot?: string; verbose?: boolean; inputCnt?: number; json?: boolean }) => {
          const rep = validateSinks(loadWorkRoot(resolveWorkRoot(opts.workRoot)), opts.inputCnt);
          if (opts.json) out(jsonDoc('wproj validate sink-file', rep, rep.pass));
          else {
            const errors = rep.issues.filter((i) => i.severity === 'ERROR').length;
            out(rep.verdict === 'PASS' ? 'validate: PASS' : rep.verdict === 'WARN' ? `validate: WARN (${rep.issues.length} warnings)` : `validate: FAIL (${errors} errors)`);
            out(`Total input: ${rep.totalInput} (source=${rep.totalInputSource})`);
            const rows = rep.sinks.filter((s) => opts.verbose || s.expected !== '-').map((s) => [`${s.group}/${s.sink}`, fmtNum(s.actual), s.expected, `${s.lines}/${s.denom}`, s.verdict]);
            out(renderTable(['Sink', 'Actual', 'Expected', 'Lines/Denom', 'Verdict'], rows));
            for (const i of rep.issues) out(`${i.severity}: ${i.group}${i.sink ? `/${i.sink}` : ''}: ${i.msg}`);
          }
          if (!rep.pass) process.exitCode = 1;
        }),
    ),
    { isDefault: true },
  ),
);

program.addCommand(
  new Command('rescue').description('rescue backlog').addCommand(
    addCommonHelp(
      new Command('stat')
        .description('files, lines and bytes left to replay (after the recover.lock checkpoint) per <group>/<sink> under rescue.path; .lock files listed apart')
        .addOption(workRootOption())
        .option('-d, --detail', 'list every file')
        .option('--json', 'machine-readable output')
        .option('--csv', 'CSV output')
        .action((opts: { workRoot?: string; detail?: boolean; json?: boolean; csv?: boolean }) => {
          if (opts.json && opts.csv) throw new WrError('USAGE', 'give --json or --csv, not both');
          const wr = loadWorkRoot(resolveWorkRoot(opts.workRoot));
          const st = rescueStat(path.resolve(wr.root, wr.engine.rescue.path));
          if (opts.json) return void out(jsonDoc('wproj rescue stat', opts.detail ? st : { ...st, files: [] }));
          if (opts.csv) {
            if (opts.detail) {
              out('path,sink_name,line_count,size_bytes');
              for (const f of st.files) out(`${JSON.stringify(f.path)},${f.sink},${f.lines},${f.bytes}`);
            } else {
              out('sink_name,file_count,line_count,size_bytes');
              for (const [k, b] of Object.entries(st.bySink)) out(`${k},${b.files},${b.lines},${b.bytes}`);
            }
            return;
          }
          out(`rescue: ${st.rescuePath}`);
          out(`files ${st.totalFiles}, lines ${st.totalLines}, bytes ${st.totalBytes}, oldest ${st.oldestAgeSec === null ? '-' : `${st.oldestAgeSec}s`}, quarantined ${st.dead}`);
          out(renderTable(['Sink', 'Files', 'Lines', 'Bytes'], Object.entries(st.bySink).sort().map(([k, b]) => [k, b.files, b.lines, b.bytes])));
          if (opts.detail && st.files.length) out(renderTable(['Path', 'Lines', 'Bytes'], st.files.map((f) => [short(f.path), f.lines, f.bytes])));
          if (st.locked.length) {
            out('being written or awaiting salvage (.dat.lock):');
            out(renderTable(['Path', 'Lines', 'Bytes'], st.locked.map((f) => [short(f.path), f.lines, f.bytes])));
          }
        }),
    ),
  ),
);

program.addCommand(
  addCommonHelp(
    new Command('check')
      .description('validate every config file and print every problem (file:line:col), not only the first; exit 2 if any. Also warns (exit 0) about a group whose rule globs match no rule, and rules whose records no group would take')
      .addOption(workRootOption())
      .action((opts: { workRoot?: string }) => {
        const problems: Problem[] = [];
        const wr = collectWorkRoot(resolveWorkRoot(opts.workRoot), problems);
        if (problems.length) {
          for (const p of problems) out(formatProblem(p));
          throw new WrError('CONFIG_INVALID', `check: ${problems.length} problem(s)`);
        }
        const sinks = wr.groups.reduce((a, g) => a + g.sinks.length, 0);
        const warnings = configWarnings(wr);
        for (const w of warnings) out(`warning: ${w}`);
        const warned = warnings.length ? `, ${warnings.length} warning(s)` : '';
        out(`check: OK (${wr.sources.length} source(s), ${wr.rules.length} rule(s), ${wr.groups.length} group(s), ${sinks} sink(s)${warned})`);
      }),
  ),
);

program.addCommand(
  addCommonHelp(
    new Command('init')
      .description('write a small commented work root that runs (one file source, one rule, one group whose sinks fail over to rescue, a miss group); existing files are kept')
      .addOption(workRootOption())
      .option('--demo', 'write the demo work root instead (benchmark and example groups with expects)')
      .action((opts: { workRoot?: string; demo?: boolean }) => {
        const dir = workRootPath(opts.workRoot);
        const r = initWorkRoot(dir, opts.demo === true);
        out(`init: ${dir}: ${r.created.length} file(s) created, ${r.kept.length} kept`);
        out(`next: cd ${shellQuote(dir)} && wpgen sample -n ${opts.demo ? 10000 : 100} && wparse batch && wproj stat file`);
      }),
  ),
);

program.addCommand(
  new Command('nats').description('NATS JetStream (SPEC section 12)').addCommand(
    addCommonHelp(
      new Command('init')
        .description('create every stream a nats source or sink names (file storage, replicas, duplicate window); existing streams are left unchanged')
        .addOption(workRootOption())
        .option('--json', 'machine-readable output')
        .action(async (opts: { workRoot: string; json?: boolean }) => {
          const plans = natsStreamPlans(loadWorkRoot(resolveWorkRoot(opts.workRoot)));
          const res = await natsInit(plans);
          if (opts.json) return void out(jsonDoc('wproj nats init', { streams: res }));
          if (!res.length) out('nats init: no nats source or sink in the config');
          for (const r of res) {
            const p = r.plan;
            out(`nats init: stream ${r.stream} ${r.action} (subjects ${p.subjects.join(' ')}, replicas ${p.replicas}, duplicate_window ${p.duplicateWindowMs} ms, ${p.retention})`);
            for (const d of r.diff) out(`  differs from config, left unchanged: ${d}`);
          }
        }),
    ),
  ),
);

program.addCommand(
  new Command('data').description('work-root data').addCommand(
    addCommonHelp(
      new Command('clean')
        .description('remove sink outputs, rescue files and recover.lock, run state (queue, checkpoints) and logs; inputs stay. Refuses while wparse or wprescue runs on the work root, and while rescue data waits for replay, unless --force')
        .addOption(workRootOption())
        .option('--dry-run', 'list what would be removed, remove nothing')
        .option('--force', 'remove even rescue data not replayed yet (it is lost)')
        .action(async (opts: { workRoot?: string; dryRun?: boolean; force?: boolean }) => {
          const wr = loadWorkRoot(resolveWorkRoot(opts.workRoot));
          const rescue = path.resolve(wr.root, wr.engine.rescue.path);
          const st = rescueStat(rescue);
          const waiting = st.totalLines > 0 || st.totalFiles > 0 || st.locked.length > 0 || st.dead > 0;
          const what = `${st.totalFiles} rescue file(s) (${st.totalLines} lines), ${st.locked.length} being written, ${st.dead} quarantined`;
          const holder = wparseHolder(wr.root);
          if (opts.dryRun) {
            for (const d of cleanData(wr, true)) out(`would remove ${d}`);
            if (holder !== undefined) out(`wparse (pid ${holder}) is running: clean would refuse until it stops`);
            if (waiting) out(`unreplayed rescue data: ${what}; \`wprescue batch\` replays it; --force removes it`);
            return;
          }
          // even --force: a running wparse would go on writing into the deleted files, its lines lost
          if (holder !== undefined) throw new WrError('USAGE', `refusing to clean: wparse (pid ${holder}) is running on ${wr.root}; stop it first`);
          if (waiting && !opts.force) throw new WrError('USAGE', `refusing to clean: ${what} not replayed yet under ${rescue}; run \`wprescue batch\` first, or pass --force to lose it (--dry-run lists what would go)`);
          const release = await lockRescueDir(rescue, () => undefined);
          try {
            // The looks above hold nothing: a wparse started since would go on writing into what is
            // removed below (its lock, pid and checkpoints too). Holding its lock, none can start.
            const releaseWparse = await lockWparse(wr.root, () => undefined).catch((err: unknown) => {
              if (!(err instanceof WrError && err.code === 'USAGE')) throw err;
              throw new WrError('USAGE', `refusing to clean: wparse (pid ${wparseHolder(wr.root) ?? '?'}) is running on ${wr.root}; stop it first`);
            });
            try {
              // counted again, now that nothing can add to it
              const now = rescueStat(rescue);
              if (!opts.force && (now.totalFiles > 0 || now.locked.length > 0 || now.dead > 0)) {
                throw new WrError('USAGE', `refusing to clean: rescue data written since the check waits for replay under ${rescue}; run \`wprescue batch\` first, or pass --force to lose it`);
              }
              for (const d of cleanData(wr)) out(`removed ${d}`);
            } finally {
              await releaseWparse();
            }
          } finally {
            await release();
          }
        }),
    ),
  ),
);

await runMain(program);
