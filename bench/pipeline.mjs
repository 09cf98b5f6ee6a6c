// wparse batch, file → rules → json file sink, 1M lines of 150–250 bytes, beside a bare Node
// read-split-write of the same file in the same run (SPEC section 11: ratio >= 0.4).
import path from 'node:path';
import { LINES, benchWorkRoot, clean, cliAgainstBare, repeat, reportMedian, scratch, writeInput } from './lib.mjs';

const dir = scratch('pipeline');
const input = path.join(dir, 'input.log');
writeInput(input, LINES);
const rates = [];
const bare = [];
await repeat(async (i) => {
  const root = benchWorkRoot(path.join(dir, `wr-${i}`), { input, connector: '    type: file\n    params: { file: out.json, fmt: json }' });
  const r = await cliAgainstBare('wparse', ['batch', '-w', root], LINES, input, path.join(dir, `bare-${i}.log`));
  clean(root);
  if (i >= 0) {
    rates.push(r.rate);
    bare.push(r.bare);
  }
});
clean(dir);
reportMedian({
  bench: 'pipeline',
  figure: `wparse batch, ${LINES} lines → rule → json file sink (whole process)`,
  unit: 'lines/s',
  runs: rates,
  baseline: 'bare Node read-split-write of the same file',
  baselineRuns: bare,
  target: 'ratio >= 0.4',
});
