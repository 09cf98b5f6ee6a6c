// Spill while the sink is down: the same 1M lines through wparse batch with a test_rescue sink
// healthy from the start, then down from the start (every record to rescue), per
// rescue.durability. Figures: spill rate over the healthy rate of the same run (target ≥ 0.9)
// and rescue bytes over input bytes (target ≤ 1.5).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { LINES, benchWorkRoot, clean, repeat, report, reportMedian, scratch, timeCli, writeInput } from './lib.mjs';

const dir = scratch('failover');
const input = path.join(dir, 'input.log');
writeInput(input, LINES);
const inputBytes = statSync(input).size;
const connector = (stages) => `    type: test_rescue\n    params: { file: out.json, fmt: json, stages: [${stages}] }`;

function bytesUnder(d) {
  let n = 0;
  for (const e of readdirSync(d, { recursive: true })) {
    const f = path.join(d, String(e));
    if (/\.dat(\.lock)?$/.test(f)) n += statSync(f).size;
  }
  return n;
}

for (const durability of ['fsync', 'batch', 'none']) {
  const healthy = [];
  const spill = [];
  let rescueBytes = 0;
  await repeat(async (i) => {
    const engine = `rescue: { durability: ${durability} }\n`;
    const h = benchWorkRoot(path.join(dir, `h-${i}`), { input, engine, connector: connector('{ healthy: forever }') });
    const hs = (await timeCli('wparse', ['batch', '-w', h])).seconds;
    clean(h);
    const d = benchWorkRoot(path.join(dir, `d-${i}`), { input, engine, connector: connector('{ unhealthy: forever }') });
    const ds = (await timeCli('wparse', ['batch', '-w', d])).seconds;
    rescueBytes = bytesUnder(path.join(d, 'data/rescue'));
    clean(d);
    if (i >= 0) {
      healthy.push(LINES / hs);
      spill.push(LINES / ds);
    }
  });
  reportMedian({
    bench: 'failover',
    figure: `spill rate, sink down from the start, durability ${durability}`,
    unit: 'lines/s',
    runs: spill,
    baseline: 'the same wparse batch with the sink healthy',
    baselineRuns: healthy,
    target: 'ratio >= 0.9',
  });
  report({
    bench: 'failover',
    figure: `rescue bytes over input bytes, durability ${durability}`,
    value: +(rescueBytes / inputBytes).toFixed(3),
    unit: 'x',
    baseline: 'input bytes',
    baselineValue: inputBytes,
    ratio: +(rescueBytes / inputBytes).toFixed(3),
    target: '<= 1.5',
  });
}
clean(dir);
