// wparse daemon following a file that another process appends to at full speed (1 MiB writes of
// 150–250-byte lines): lines/s from the writer's start until wparse_lines_in_total reaches every
// line, beside a bare Node read-split-write of the finished file in the same run. Then the CPU an
// idle daemon spends following 3,000 files it has read (share of one core over 10 s).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DIST, LINES, bareReadSplitWrite, benchWorkRoot, clean, repeat, reportMedian, scratch } from './lib.mjs';

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function linesIn(port) {
  try {
    const page = await (await globalThis.fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = page.split('\n').find((l) => l.startsWith('wparse_lines_in_total{'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  } catch {
    return -1; // not listening yet
  }
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = scratch('tail');
const rates = [];
const bare = [];
await repeat(async (i) => {
  const port = await freePort();
  const input = path.join(dir, `input-${i}.log`);
  const root = benchWorkRoot(path.join(dir, `wr-${i}`), {
    input,
    engine: `metrics: { wparse: { listen: "127.0.0.1:${port}" } }\n`,
    connector: '    type: file\n    params: { file: out.json, fmt: json }',
  });
  const d = spawn(process.execPath, [path.join(DIST, 'cli', 'wparse.js'), 'daemon', '-w', root], { stdio: 'ignore' });
  while ((await linesIn(port)) < 0) await pause(20); // started, waiting for its input file
  const t0 = performance.now();
  const writer = spawn(process.execPath, ['--input-type=module', '-e', `import { writeInput } from ${JSON.stringify(path.join(import.meta.dirname, 'lib.mjs'))}; writeInput(${JSON.stringify(input)}, ${LINES});`], { stdio: 'inherit' });
  const writerDone = new Promise((r) => writer.on('close', () => r(performance.now())));
  while ((await linesIn(port)) < LINES) await pause(10);
  const seconds = (performance.now() - t0) / 1000;
  const writerSeconds = ((await writerDone) - t0) / 1000;
  d.kill('SIGTERM');
  await new Promise((r) => d.on('close', r));
  const b = await bareReadSplitWrite(input, path.join(dir, `bare-${i}.log`));
  console.error(`  run ${i}: tail ${Math.round(LINES / seconds)} lines/s (writer done after ${writerSeconds.toFixed(2)} s of ${seconds.toFixed(2)} s), bare ${Math.round(b.lines / b.seconds)} lines/s`);
  clean(root);
  clean(input);
  clean(path.join(dir, `bare-${i}.log`));
  if (i >= 0) {
    rates.push(LINES / seconds);
    bare.push(b.lines / b.seconds);
  }
});
reportMedian({
  bench: 'tail',
  figure: `wparse daemon following a file appended at full speed by another process, ${LINES} lines → rule → json file sink`,
  unit: 'lines/s',
  runs: rates,
  baseline: 'bare Node read-split-write of the same file',
  baselineRuns: bare,
});

// An idle daemon following many files: CPU (user + system, from /proc) over a 10 s window, once
// every line was read. Each file costs a poll and a rescan stat; the poll backs off while idle.
const FILES = Number(process.env.BENCH_IDLE_FILES ?? 3000);
const shares = [];
const bareShares = [];
/** CPU milliseconds per second a process used over `ms` (user + system from /proc, ticks of 10 ms). */
async function cpuShare(pid, ms) {
  const cpu = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const c0 = cpu();
  const t0 = performance.now();
  await pause(ms);
  return (1000 * (cpu() - c0)) / ((performance.now() - t0) / 1000);
}
await repeat(async (i) => {
  if (i < 0) return; // no warm-up: a 10 s window is long enough
  const port = await freePort();
  const root = path.join(dir, `idle-${i}`);
  const inDir = path.join(root, 'in');
  mkdirSync(inDir, { recursive: true });
  for (let f = 0; f < FILES; f++) writeFileSync(path.join(inDir, `f${f}.log`), `id=${f} level=info msg=a\nid=${f} level=info msg=b\n`);
  benchWorkRoot(root, { input: path.join(inDir, '*.log'), engine: `metrics: { wparse: { listen: "127.0.0.1:${port}" } }\n`, connector: '    type: file\n    params: { file: out.json, fmt: json }' });
  const d = spawn(process.execPath, [path.join(DIST, 'cli', 'wparse.js'), 'daemon', '-w', root], { stdio: 'ignore' });
  while ((await linesIn(port)) < 2 * FILES) await pause(100);
  await pause(3000); // the polls have backed off (at most 2 s) and start-up work is done
  shares.push(await cpuShare(d.pid, 10_000));
  d.kill('SIGTERM');
  await new Promise((r) => d.on('close', r));
  // the baseline: a bare loop doing what a fixed 200 ms poll costs, one fstat per open file
  const bare = spawn(process.execPath, ['-e', `const fs = require('node:fs'); const fds = fs.readdirSync(${JSON.stringify(inDir)}).map((n) => fs.openSync(${JSON.stringify(inDir)} + '/' + n, 'r')); setInterval(() => { for (const fd of fds) fs.fstatSync(fd); }, 200);`], { stdio: 'ignore' });
  await pause(3000);
  bareShares.push(await cpuShare(bare.pid, 10_000));
  bare.kill('SIGKILL');
  await new Promise((r) => bare.on('close', r));
  clean(root);
});
clean(dir);
reportMedian({
  bench: 'tail',
  figure: `idle wparse daemon following ${FILES} files it has read: CPU over 10 s`,
  unit: 'ms CPU per s',
  runs: shares,
  baseline: `bare Node loop: one fstat per file every 200 ms (the cost of a fixed poll), ${FILES} open files`,
  baselineRuns: bareShares,
});
