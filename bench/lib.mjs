// Shared by the benchmarks: timing, medians, temp dirs, test data. Each benchmark prints one JSON
// object per figure on stdout; run.mjs collects them into RESULTS.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, fdatasyncSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const OUT = path.join(ROOT, 'bench', '.out');
export const DIST = path.join(ROOT, 'dist');

export const RUNS = Number(process.env.BENCH_RUNS ?? 3);
export const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function scratch(name) {
  mkdirSync(OUT, { recursive: true });
  return mkdtempSync(path.join(OUT, `${name}-`));
}

export function clean(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `fn` RUNS times (after one warm-up unless `warm` is false); returns every result. */
export async function repeat(fn, { warm = true, runs = RUNS } = {}) {
  if (warm) await fn(-1);
  const out = [];
  for (let i = 0; i < runs; i++) out.push(await fn(i));
  return out;
}

export function report(figure) {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** Reports the median of `runs` beside the median of `baselineRuns` (one per run) and their ratio. */
export function reportMedian({ bench, figure, unit, runs, baseline, baselineRuns, target, digits = 0 }) {
  const value = median(runs);
  const base = median(baselineRuns);
  report({
    bench, figure, unit, baseline, target,
    value: +value.toFixed(digits),
    baselineValue: Math.round(base),
    ratio: +(value / base).toFixed(value / base < 10 ? 3 : 2),
    runs: runs.map((r) => +r.toFixed(digits ? 1 : 0)),
  });
}

/** A bare write+fdatasync loop of `n` records of `bytes` each, `perSync` records per sync. */
export function bareFsyncLoop(dir, n, bytes, perSync) {
  const file = path.join(dir, `bare-${perSync}.log`);
  const rec = Buffer.alloc(bytes * perSync, 'x');
  const fd = openSync(file, 'w');
  const t0 = performance.now();
  for (let i = 0; i < n; i += perSync) {
    writeSync(fd, rec);
    fdatasyncSync(fd);
  }
  const s = (performance.now() - t0) / 1000;
  closeSync(fd);
  rmSync(file, { force: true });
  return n / s;
}

/**
 * `n` lines of 150–250 bytes (mean 200), like peer-bench's data: `seq=<n> level=<l> msg=<text>`.
 * Deterministic, so every run and every benchmark sees the same bytes.
 */
export function writeInput(file, n) {
  mkdirSync(path.dirname(file), { recursive: true });
  const levels = ['info', 'warn', 'error', 'debug'];
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(8);
  const fd = openSync(file, 'w');
  let buf = '';
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const head = `seq=${String(i).padStart(10, '0')} level=${levels[i & 3]} msg=`;
    const len = 150 + (seed % 101) - head.length - 1; // 150..250 bytes with the newline
    buf += `${head}${filler.slice(0, Math.max(1, len))}\n`;
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
}

export function writeFile(file, text) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

export const RULES = `rules:
  - name: /bench/line
    regex: '^seq=(?<seq>\\d+) level=(?<level>\\w+) msg=(?<msg>.*)$'
    types: { seq: int }
`;

/**
 * A work root with one file source (`input`) and one `benchmark` group whose single sink is
 * `sinkYaml` (a connector line set). Returns the root.
 */
export function benchWorkRoot(dir, { input, engine = '', connector }) {
  writeFile(path.join(dir, 'conf/wparse.yaml'), `version: 1\nlog: { level: warn }\n${engine}`);
  writeFile(path.join(dir, 'conf/wpsrc.yaml'), `sources:\n  - key: src\n    params: { path: ${input}, from: start }\n`);
  writeFile(path.join(dir, 'models/rules/bench.yaml'), RULES);
  writeFile(path.join(dir, 'sink/connectors.d/00.yaml'), `connectors:\n  - id: out\n${connector}\n    allow_override: []\n`);
  writeFile(path.join(dir, 'sink/business.d/bench.yaml'), 'group:\n  name: bench\n  rule: ["/bench/*"]\n  sinks:\n    - name: out\n      connect: out\n');
  return dir;
}

/** Runs a built CLI and returns its wall time in seconds; throws with its stderr if it fails. */
export async function timeCli(name, args, opts = {}) {
  const { spawn, execSync } = await import('node:child_process');
  execSync('sync'); // write back the previous run's files first, so runs do not pay for each other
  const t0 = performance.now();
  const { code, stderr, peakRss } = await new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(DIST, 'cli', `${name}.js`), ...args], { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, stderr: err }));
  });
  if (code !== 0) throw new Error(`${name} ${args.join(' ')} exited ${code}: ${stderr}`);
  return { seconds: (performance.now() - t0) / 1000, peakRss };
}

/**
 * Times one CLI run over `lines` lines, then a bare read-split-write of `bareInput` in the same
 * run; returns both rates in lines/s.
 */
export async function cliAgainstBare(name, args, lines, bareInput, bareOutput) {
  const { seconds } = await timeCli(name, args);
  const b = await bareReadSplitWrite(bareInput, bareOutput);
  clean(bareOutput);
  return { rate: lines / seconds, bare: b.lines / b.seconds };
}

/** Bare Node read-split-write of `input` to `output`: 1 MiB reads, indexOf split to strings, batched writes. */
export async function bareReadSplitWrite(input, output) {
  const { createReadStream, createWriteStream } = await import('node:fs');
  const t0 = performance.now();
  const ws = createWriteStream(output);
  let carry = '';
  let n = 0;
  for await (const chunk of createReadStream(input, { highWaterMark: 1 << 20 })) {
    const text = carry + chunk.toString('utf8');
    let start = 0;
    let out = '';
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      out += `${text.slice(start, nl)}\n`;
      n++;
      start = nl + 1;
    }
    carry = text.slice(start);
    if (!ws.write(out)) await new Promise((r) => ws.once('drain', r));
  }
  await new Promise((r) => ws.end(r));
  return { lines: n, seconds: (performance.now() - t0) / 1000 };
}
