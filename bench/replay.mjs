// wprescue batch replaying rescue files into a json file sink (SPEC section 11):
// - unlimited rate, checkpoint every batch, 1M lines, beside a bare Node read-split-write of the
//   same rescue file in the same run (target ≥ 1M lines/s);
// - achieved rate at 10, 1k and 100k lines/s (target ±2%);
// - peak RSS replaying a 10M-line file (target ≤ 150 MB);
// - start-up with 10k rescue files: time to the first replayed line (target ≤ 1 s);
// - 10k rescue files of 100 lines against the same 1M lines in one file (target ≤ 2× the time).
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DIST, LINES, RUNS, benchWorkRoot, clean, cliAgainstBare, repeat, report, reportMedian, scratch, timeCli, writeInput } from './lib.mjs';

const { formatRescueName } = await import('../dist/rescue/file-name.js');
const { encodeRescueLine } = await import('../dist/rescue/line-format.js');
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const connector = '    type: file\n    params: { file: out.json, fmt: json }';

/** A rescue file (current line format) of `n` records shaped like the pipeline's (seq, level, msg of 150–250 byte lines). */
function writeRescue(file, n, from = 0) {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'w');
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(8);
  let buf = '';
  for (let i = from; i < from + n; i++) {
    const msg = filler.slice(0, 110 + (i % 101));
    buf += encodeRescueLine({ id: `src:${i * 200}`, kind: 'record', record: { seq: i, level: 'info', msg } });
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = '';
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
}

/** Counts the lines of a growing file, reading only the bytes added since the last call. */
function lineCounter(file) {
  let fd;
  let pos = 0;
  let lines = 0;
  const buf = Buffer.alloc(1 << 20);
  return (done = false) => {
    if (fd === undefined) {
      if (!existsSync(file)) return 0;
      fd = openSync(file, 'r');
    }
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) {
        if (done) closeSync(fd);
        return lines;
      }
      pos += n;
      for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) lines++;
    }
  };
}

const rescueFile = (root, seq = 0) => path.join(root, 'data/rescue/bench', formatRescueName({ sink: 'out', time: T0, seq, locked: false }));
const engine = (rps, extra = '') => `performance: { rate_limit_rps: ${rps} }\nrecovery: { idle_exit_ms: 0, scan_interval_ms: 50 }\n${extra}`;

const dir = scratch('replay');
const dummyInput = path.join(dir, 'none.log');
writeInput(dummyInput, 1);

// 1. unlimited
{
  const master = path.join(dir, 'master.dat');
  writeRescue(master, LINES);
  const rates = [];
  const bare = [];
  await repeat(async (i) => {
    const root = benchWorkRoot(path.join(dir, `u-${i}`), { input: dummyInput, engine: engine(0), connector });
    mkdirSync(path.dirname(rescueFile(root)), { recursive: true });
    copyFileSync(master, rescueFile(root));
    const r = await cliAgainstBare('wprescue', ['batch', '-w', root], LINES, master, path.join(root, 'bare.out'));
    const got = readFileSync(path.join(root, 'data/out_dat/out.json')).length;
    if (existsSync(rescueFile(root)) || got === 0) throw new Error('replay did not finish');
    clean(root);
    if (i >= 0) {
      rates.push(r.rate);
      bare.push(r.bare);
    }
  });
  clean(master);
  reportMedian({
    bench: 'replay',
    figure: `wprescue batch, ${LINES}-line rescue file → json file sink, unlimited, checkpoint every batch (whole process)`,
    unit: 'lines/s',
    runs: rates,
    baseline: 'bare Node read-split-write of the same rescue file',
    baselineRuns: bare,
    target: 'ratio >= 0.5 (aim: 1000000 lines/s)',
  });
}

/**
 * 2. set rates: the achieved rate over a 10 s window starting 1 s after the first line, measured
 * from the sink file's growth (polled every 50 ms).
 */
for (const rps of [10, 1000, 100_000]) {
  const n = rps * 12;
  const achieved = [];
  await repeat(
    async (i) => {
      const root = benchWorkRoot(path.join(dir, `r-${rps}-${i}`), { input: dummyInput, engine: engine(rps), connector });
      writeRescue(rescueFile(root), n);
      const out = path.join(root, 'data/out_dat/out.json');
      const samples = [];
      const c = spawn(process.execPath, [path.join(DIST, 'cli', 'wprescue.js'), 'batch', '-w', root], { stdio: 'ignore' });
      const count = lineCounter(out);
      const poll = setInterval(() => samples.push({ t: performance.now(), lines: count() }), 50);
      await new Promise((r) => c.on('close', r));
      clearInterval(poll);
      count(true);
      // a 10 s window starting 1 s after the first line
      const first = samples.find((s) => s.lines > 0);
      const a = samples.find((s) => s.t >= first.t + 1000);
      const b = samples.find((s) => s.t >= a.t + 10_000) ?? samples[samples.length - 1];
      clean(root);
      if (i >= 0) achieved.push(((b.lines - a.lines) * 1000) / (b.t - a.t));
    },
    { warm: false, runs: Math.min(RUNS, 3) },
  );
  reportMedian({
    bench: 'replay',
    figure: `achieved replay rate at --rate ${rps} (10 s window)`,
    unit: 'lines/s',
    runs: achieved,
    baseline: 'the configured rate',
    baselineRuns: [rps],
    target: 'ratio within 0.98..1.02',
    digits: rps < 100 ? 2 : 0,
  });
}

// 3. peak RSS (VmHWM from /proc) replaying a 10M-line file, unlimited.
{
  const big = Number(process.env.BENCH_RSS_LINES ?? 10_000_000);
  const root = benchWorkRoot(path.join(dir, 'rss'), { input: dummyInput, engine: engine(0), connector });
  writeRescue(rescueFile(root), big);
  const c = spawn(process.execPath, [path.join(DIST, 'cli', 'wprescue.js'), 'batch', '-w', root], { stdio: 'ignore' });
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${c.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
    } catch {
      // exited
    }
  }, 100);
  const t0 = performance.now();
  await new Promise((r) => c.on('close', r));
  clearInterval(poll);
  const secs = (performance.now() - t0) / 1000;
  if (existsSync(rescueFile(root))) throw new Error('the 10M-line replay did not finish');
  clean(root);
  report({
    bench: 'replay',
    figure: `peak RSS replaying a ${big}-line rescue file (${Math.round(big / secs)} lines/s)`,
    value: Math.round(peak / 1e6),
    unit: 'MB',
    baseline: 'none (absolute target)',
    baselineValue: 150,
    ratio: +(peak / 150e6).toFixed(2),
    target: '<= 150 MB',
  });
}

// 4. start-up with 10k rescue files: time from spawn to the first replayed line.
{
  const files = Number(process.env.BENCH_FILES ?? 10_000);
  const times = [];
  await repeat(
    async (i) => {
      const root = benchWorkRoot(path.join(dir, `f-${i}`), { input: dummyInput, engine: engine(0), connector });
      for (let k = 0; k < files; k++) writeRescue(rescueFile(root, k), 10, k * 10);
      const out = path.join(root, 'data/out_dat/out.json');
      const t0 = performance.now();
      const c = spawn(process.execPath, [path.join(DIST, 'cli', 'wprescue.js'), 'batch', '-w', root], { stdio: 'ignore' });
      let first;
      while (first === undefined) {
        if (existsSync(out) && statSync(out).size > 0) first = performance.now() - t0;
        else await new Promise((r) => setTimeout(r, 5));
      }
      c.kill('SIGTERM');
      await new Promise((r) => c.on('close', r));
      clean(root);
      if (i >= 0) times.push(first);
    },
    { warm: false },
  );
  reportMedian({
    bench: 'replay',
    figure: `start-up with ${files} rescue files: spawn to first replayed line`,
    unit: 'ms',
    runs: times,
    baseline: 'none (absolute target)',
    baselineRuns: [1000],
    target: '<= 1000 ms',
  });
}
// 5. many small files: 10k files of 100 lines against the same lines in one file, same run.
{
  const files = Number(process.env.BENCH_SMALL_FILES ?? 10_000);
  const per = Math.max(1, Math.floor(LINES / files));
  const many = [];
  const one = [];
  await repeat(
    async (i) => {
      for (const [split, out] of [[files, many], [1, one]]) {
        const root = benchWorkRoot(path.join(dir, `s-${split}-${i}`), { input: dummyInput, engine: engine(0), connector });
        for (let k = 0; k < split; k++) writeRescue(rescueFile(root, k), (per * files) / split, k * ((per * files) / split));
        const { seconds } = await timeCli('wprescue', ['batch', '-w', root]);
        if (existsSync(rescueFile(root))) throw new Error('replay did not finish');
        clean(root);
        if (i >= 0) out.push(seconds * 1000);
      }
    },
    { warm: false },
  );
  reportMedian({
    bench: 'replay',
    figure: `${files} rescue files of ${per} lines: whole replay time against the same lines in one file`,
    unit: 'ms',
    runs: many,
    baseline: 'the same lines in one rescue file',
    baselineRuns: one,
    target: 'ratio <= 2',
  });
}
clean(dir);
