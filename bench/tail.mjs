// wparse daemon following a file that another process appends to at full speed (1 MiB writes of
// 150–250-byte lines): lines/s from the writer's start until wparse_lines_in_total reaches every
// line, beside a bare Node read-split-write of the finished file in the same run.
import { spawn } from 'node:child_process';
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
clean(dir);
reportMedian({
  bench: 'tail',
  figure: `wparse daemon following a file appended at full speed by another process, ${LINES} lines → rule → json file sink`,
  unit: 'lines/s',
  runs: rates,
  baseline: 'bare Node read-split-write of the same file',
  baselineRuns: bare,
});
