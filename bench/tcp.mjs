// TCP sink against the file sink: the same 1M lines through wparse batch → rule → json, once into
// a file sink and once into a tcp sink whose peer (a node:net listener in this process) reads and
// discards. The tcp run keeps its resend window (what the kernel may still hold) and confirms its
// tail at exit. Figure: tcp rate over the file rate of the same run (target ≥ 0.8).
import { statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LINES, benchWorkRoot, clean, repeat, reportMedian, scratch, timeCli, writeInput } from './lib.mjs';

const dir = scratch('tcp');
const input = path.join(dir, 'input.log');
writeInput(input, LINES);

// counts bytes only: the listener shares the machine's two cores with wparse
let received = 0;
const server = net.createServer((s) => s.on('data', (d) => (received += d.length)));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

const file = [];
const tcp = [];
await repeat(async (i) => {
  const f = benchWorkRoot(path.join(dir, `f-${i}`), { input, connector: '    type: file\n    params: { file: out.json, fmt: json }' });
  const fs = (await timeCli('wparse', ['batch', '-w', f])).seconds;
  const fileBytes = statSync(path.join(f, 'data/out_dat/out.json')).size;
  clean(f);
  received = 0;
  const t = benchWorkRoot(path.join(dir, `t-${i}`), { input, connector: `    type: tcp\n    params: { port: ${port}, fmt: json }` });
  const ts = (await timeCli('wparse', ['batch', '-w', t])).seconds;
  clean(t);
  if (received !== fileBytes) throw new Error(`tcp listener received ${received} bytes, the file sink wrote ${fileBytes}`);
  if (i >= 0) {
    file.push(LINES / fs);
    tcp.push(LINES / ts);
  }
});
reportMedian({
  bench: 'tcp',
  figure: 'wparse batch → json tcp sink (resend window on, tail confirmed at exit)',
  unit: 'lines/s',
  runs: tcp,
  baseline: 'the same wparse batch into a json file sink',
  baselineRuns: file,
  target: 'ratio >= 0.8',
});
server.close();
clean(dir);
