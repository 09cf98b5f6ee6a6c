// http sink: the sink's write path (NDJSON body, POST, status) over batches of
// performance.batch_size entries, against a bare undici loop posting the same NDJSON batches on the
// same kind of Pool to the same collector (a node:http server in its own process that counts
// lines). One POST in flight for both, as the runtime writes. Figures:
// - entries carrying their JSON text (as replay hands them: decoded rescue lines) vs the bare loop posting pre-built
//   NDJSON: the sink's own cost, target ratio >= 0.7 (SPEC section 11); plain and gzip;
// - plain records the sink must JSON.stringify (as wparse hands them) vs a bare loop that
//   stringifies the same records and posts: formatting costs both the same.
import { spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { gzip as gzipCb, constants } from 'node:zlib';
import { Pool } from 'undici';
import { LINES, repeat, reportMedian } from './lib.mjs';

const { HttpSink } = await import('../dist/sinks/http/http-sink.js');
const { systemClock } = await import('../dist/platform/clock.js');
const { asciiText, decodeRescueBytes, encodeRescueBatch } = await import('../dist/rescue/line-format.js');
const gzip = promisify(gzipCb);
const BATCH = 512;

const SERVER = `
import http from 'node:http';
import { createGunzip } from 'node:zlib';
let lines = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/count') return res.end(String(lines));
  const src = req.headers['content-encoding'] === 'gzip' ? req.pipe(createGunzip()) : req;
  src.on('data', (d) => { for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++; });
  src.on('end', () => res.end());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const server = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const url = `http://127.0.0.1:${port}/ingest`;

// records as the pipeline's bench rule makes them (seq, level, msg; 150-250 bytes as a line)
const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(8);
const batches = [];
for (let i = 0; i < LINES; i += BATCH) {
  const b = [];
  for (let k = i; k < Math.min(LINES, i + BATCH); k++) {
    b.push({ id: `src:${k * 200}`, kind: 'record', record: { seq: k, level: ['info', 'warn', 'error', 'debug'][k & 3], msg: filler.slice(0, 100 + (k % 101)) } });
  }
  batches.push(b);
}
const ndjson = batches.map((b) => b.map((e) => `${JSON.stringify(e.record)}\n`).join(''));
// what replay hands the sink: each batch written as rescue lines, then decoded as the replayer
// does (one ASCII text per batch, each entry's JSON a slice of it). Entries made with a spread
// (`{ ...e, json }`) cost the sink 0.2 us a line in property loads alone: not what it is given.
const withJson = batches.map((b) => {
  const buf = encodeRescueBatch(b);
  const ascii = asciiText(buf, 0, buf.length);
  const out = [];
  for (let at = 0; at < buf.length; ) {
    const nl = buf.indexOf(10, at);
    const d = decodeRescueBytes(buf, at, nl, ascii);
    if (!d.ok) throw new Error(`bench rescue line: ${d.reason}`);
    out.push(d.entry);
    at = nl + 1;
  }
  return out;
});

async function count() {
  const p = new Pool(`http://127.0.0.1:${port}`);
  const r = await p.request({ path: '/count', method: 'GET' });
  const n = Number(await r.body.text());
  await p.close();
  return n;
}

async function viaSink(compression, input) {
  const sink = new HttpSink({ url, headers: {}, fmt: 'json', maxLines: 1000, maxBytes: 1 << 20, timeoutMs: 10_000, compression }, systemClock);
  await sink.open();
  const t0 = performance.now();
  for (const b of input) {
    const out = await sink.write(b);
    if (out.status !== 'ok') throw new Error(`sink write: ${out.reason}`);
  }
  const s = (performance.now() - t0) / 1000;
  await sink.close();
  return LINES / s;
}

async function bare(compression, stringify) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  const headers = { 'content-type': 'application/x-ndjson', ...(compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}) };
  const t0 = performance.now();
  for (let i = 0; i < ndjson.length; i++) {
    const text = stringify ? batches[i].map((e) => `${JSON.stringify(e.record)}\n`).join('') : ndjson[i];
    const body = compression === 'gzip' ? await gzip(text, { level: constants.Z_BEST_SPEED }) : text;
    const r = await pool.request({ path: '/ingest', method: 'POST', headers, body });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`bare POST: ${r.statusCode}`);
  }
  const s = (performance.now() - t0) / 1000;
  await pool.close();
  return LINES / s;
}

const cases = [
  { compression: 'none', json: true, what: 'entries carrying their JSON', baseline: 'bare undici Pool.request loop posting the same NDJSON batches' },
  { compression: 'gzip', json: true, what: 'entries carrying their JSON', baseline: 'bare undici Pool.request loop posting the same NDJSON batches, gzip level 1' },
  { compression: 'none', json: false, what: 'records it formats', baseline: 'bare undici loop that JSON.stringifies the same records and posts them' },
];
for (const c of cases) {
  const runs = [];
  const base = [];
  const before = await count();
  await repeat(async (i) => {
    // fresh entries each run: the json formatter keeps the text it makes on the entry
    const a = await viaSink(c.compression, c.json ? withJson : batches.map((b) => b.map((e) => ({ id: e.id, kind: e.kind, record: e.record }))));
    const b = await bare(c.compression, !c.json);
    if (i >= 0) {
      runs.push(a);
      base.push(b);
    }
  });
  const got = (await count()) - before;
  if (got !== LINES * 2 * (base.length + 1)) throw new Error(`collector counted ${got} lines`);
  reportMedian({
    bench: 'http',
    figure: `http sink, ${BATCH}-entry batches, ${c.what}, compression ${c.compression}`,
    unit: 'lines/s',
    runs,
    baseline: c.baseline,
    baselineRuns: base,
    target: c.json ? 'ratio >= 0.7' : undefined,
  });
}
server.kill();
