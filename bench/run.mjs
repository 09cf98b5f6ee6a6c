// npm run bench [-- NAME...]: runs bench/<name>.mjs (all by default), each a separate process, and
// writes every figure to bench/RESULTS.md beside its baseline from the same run.
// Env: BENCH_RUNS (default 3 timed runs after a warm-up), BENCH_LINES (default 1,000,000).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUNS, LINES } from './lib.mjs';

const ALL = ['queue', 'pipeline', 'failover', 'replay', 'tail', 'tcp', 'http', 'postgres', 'nats'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const unknown = chosen.filter((n) => !ALL.includes(n));
if (unknown.length) {
  console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
  process.exit(2);
}

const figures = [];
for (const name of chosen) {
  console.error(`bench: ${name} ...`);
  const t0 = performance.now();
  const code = await new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(import.meta.dirname, `${name}.mjs`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    c.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const f = JSON.parse(line);
          figures.push(f);
          console.error(`  ${f.figure}: ${f.value} ${f.unit} (baseline ${f.baselineValue}, ratio ${f.ratio}${f.target ? `, target ${f.target}` : ''})`);
        } catch {
          console.error(`  ${line}`);
        }
      }
    });
    c.on('close', resolve);
  });
  console.error(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s${code ? ` (exit ${code})` : ''}`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const rows = figures.map((f) => `| ${f.bench} | ${f.figure} | ${f.value} ${f.unit} | ${f.baseline}: ${f.baselineValue} | ${f.ratio} | ${f.target ?? ''} | ${f.runs ? f.runs.join(', ') : ''} |`);
const md = `# Benchmark results

Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}.
Each value is the median of ${RUNS} timed runs after a warm-up (unless the figure says otherwise); the
baseline is measured in the same run, and the ratio is value / baseline. Input: ${LINES} lines of
150–250 bytes. Whole-process figures include Node start-up (about 0.2 s).

| bench | figure | value | baseline | ratio | target | runs |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
if (chosen.length === ALL.length) writeFileSync(path.join(import.meta.dirname, 'RESULTS.md'), md);
else process.stdout.write(md);
