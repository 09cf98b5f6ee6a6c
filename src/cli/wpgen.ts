#!/usr/bin/env node
import { Command } from 'commander';
import { generateSample } from '../proj/sample-generator.js';
import { addCommonHelp, resolveWorkRoot, workRootOption } from './context.js';
import { intOption, runMain } from './run.js';

const program = new Command('wpgen').description('Generate sample input from models/**/sample.dat.');
program.addCommand(
  addCommonHelp(
    new Command('sample')
      .description('round-robin over every models/**/sample.dat line into data/in_dat/gen.dat (exactly -n lines)')
      .addOption(workRootOption())
      .requiredOption('-n <lines>', 'number of lines', intOption('-n', 0))
      .option('-s <rate>', 'lines per second (default: as fast as possible)', intOption('-s', 1))
      .option('--stat <sec>', 'print progress every SEC seconds', intOption('--stat', 1))
      .option('-o, --output <file>', 'output file, relative to the work root; - for standard output', 'data/in_dat/gen.dat')
      .action(async (opts: { workRoot?: string; n: number; s?: number; stat?: number; output: string }) => {
        const res = await generateSample({
          workRoot: resolveWorkRoot(opts.workRoot),
          lines: opts.n,
          output: opts.output,
          ...(opts.s ? { rate: opts.s } : {}),
          ...(opts.stat ? { statSec: opts.stat } : {}),
          // with -o - the lines own standard output: progress and the summary go to standard error
          print: (t) => (opts.output === '-' ? process.stderr : process.stdout).write(`${t}\n`),
        });
        const where = res.file === '-' ? 'standard output' : res.file;
        (opts.output === '-' ? process.stderr : process.stdout).write(`wpgen: wrote ${res.lines} lines from ${res.samples} sample line(s) to ${where}\n`);
      }),
  ),
);

await runMain(program);
