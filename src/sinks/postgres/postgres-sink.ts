import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { SinkEntry } from '../../record.js';
import { OK, type Rejection, type SinkBackend, type WriteOutcome } from '../contract.js';
import { columnArrays, copySql, copyText, createTableSql, keyedInsertSql, type TableShape } from './rows.js';

export interface PostgresSinkConfig {
  url: string;
  /** The table name as configured (for messages) and its shape. */
  tableName: string;
  shape: TableShape;
  create: boolean;
  mode: 'keyed' | 'copy';
  /** Bounds a statement on a server that stopped answering (a hung server is unavailable). */
  queryTimeoutMs: number;
  /** Where the loud line about a missing table or column goes (stderr by default). */
  alarm?: (line: string) => void;
}

/** How long after the server's own cancel (statement_timeout) the client gives up on an answer. */
const SERVER_CANCEL_GRACE_MS = 2000;

/** Column types that hold a record id as it is. */
const ID_TYPES = new Set(['text', 'character varying', 'bpchar']);

/** What a failed statement means for the rows in it. */
type Failure = { kind: 'down'; reason: string; schema?: boolean } | { kind: 'data'; reason: string };

/**
 * SQLSTATE classes: 22 (data exception) and 23 (integrity) are the rows' fault: the batch is split
 * until the bad rows are isolated, and only they are rejected. 42 (missing table or column, a
 * privilege) is the schema's fault, never the data's: unavailable, with a loud line, so the rows
 * wait in rescue until someone fixes the table. 08/53/57/40, other classes and connection errors
 * without a SQLSTATE are unavailable.
 */
export function classify(err: unknown): Failure {
  const e = err as { code?: unknown; message?: string };
  const code = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const reason = code ? `${code} ${e.message ?? ''}` : (e.message ?? String(err));
  if (code?.startsWith('22') || code?.startsWith('23')) return { kind: 'data', reason };
  if (code?.startsWith('42')) return { kind: 'down', reason, schema: true };
  return { kind: 'down', reason };
}

/**
 * Rows into PostgreSQL over one `pg.Client` (the runtime serialises writes). Keyed mode sends one
 * `INSERT ... SELECT FROM unnest(...) ON CONFLICT (id) DO NOTHING` per batch: a replay or re-read
 * inserts nothing twice, and `rowCount` tells new rows from duplicates (both count as delivered).
 * Copy mode sends one plain COPY per batch: faster, but a crash between COMMIT and checkpoint
 * repeats that batch.
 */
export class PostgresSink implements SinkBackend {
  readonly type = 'postgres';
  private client: pg.Client | undefined;
  private broken: string | undefined;
  /** Column types in row order (id first), read from the catalog; undefined until checked. */
  private types: string[] | undefined;
  private schemaAlarm = false;
  inserted = 0;
  duplicates = 0;

  constructor(private readonly config: PostgresSinkConfig) {}

  /** A missing table found at open raises the same loud line as one found by a write. */
  async open(): Promise<void> {
    try {
      await this.ready();
    } catch (err) {
      const f = classify(err);
      throw new Error(f.kind === 'down' ? this.downReason(f) : f.reason, { cause: err });
    }
  }

  /** Connects and checks the table; throws what `classify` understands. */
  private async ready(): Promise<{ client: pg.Client; types: string[] }> {
    if (this.broken) this.drop();
    if (!this.client) {
      // loaded on first use: importing pg costs every start of wparse about 45 ms of CPU
      const { default: pgLib } = await import('pg');
      // the client's own timeout is only the backstop for a server that stopped answering: it
      // leaves the statement running there (a lock wait would commit later, and each one would
      // hold a connection slot), so the server cancels it itself at timeout_ms (below)
      const c = new pgLib.Client({ connectionString: this.config.url, query_timeout: this.config.queryTimeoutMs + SERVER_CANCEL_GRACE_MS, connectionTimeoutMillis: this.config.queryTimeoutMs });
      // an idle client whose server goes away emits 'error': without a listener that kills the process
      c.on('error', (err) => (this.broken = err.message));
      c.on('end', () => (this.broken ??= 'connection ended'));
      try {
        await c.connect();
        // a SET, not a startup parameter: poolers such as PgBouncer refuse unknown startup parameters
        await c.query(`SET statement_timeout = ${Math.floor(this.config.queryTimeoutMs)}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      this.client = c;
    }
    this.types ??= await this.columnTypes(this.client);
    return { client: this.client, types: this.types };
  }

  private async columnTypes(c: pg.Client): Promise<string[]> {
    const { shape } = this.config;
    // the type without its modifier: an explicit cast to varchar(8)[] or char(2)[] cuts a longer
    // value short without a word, while the INSERT's own assignment raises 22001 for that row alone
    // (bare `character` and `bit` mean length 1, so those two are named by their unbounded forms)
    const read = async (): Promise<Map<string, string>> => {
      const r = await c.query<{ name: string; type: string }>(
        `SELECT attname AS name, CASE atttypid WHEN 'bpchar'::regtype THEN 'bpchar' WHEN 'bit'::regtype THEN 'varbit' ELSE format_type(atttypid, NULL) END AS type
         FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
        [shape.table],
      );
      return new Map(r.rows.map((x) => [x.name, x.type]));
    };
    let cols = await read();
    if (cols.size === 0 && this.config.create) {
      await c.query(createTableSql(shape));
      cols = await read();
    }
    if (cols.size === 0) throw Object.assign(new Error(`relation ${this.config.tableName} does not exist`), { code: '42P01' });
    const wanted = [shape.idColumn, ...shape.columns.map((x) => x.column)];
    const types = wanted.map((name) => {
      const t = cols.get(name);
      if (!t) throw Object.assign(new Error(`column ${name} of relation ${this.config.tableName} does not exist`), { code: '42703' });
      return t;
    });
    // record ids are `<source>:<offset>`: a uuid or bigint id column would fail every row as bad
    // data and send the whole input to the error group; it is the table's fault, so say so
    if (!ID_TYPES.has(types[0]!)) {
      throw Object.assign(new Error(`column ${shape.idColumn} of relation ${this.config.tableName} is ${types[0]}; record ids (<source>:<offset>) need text or varchar`), { code: '42804' });
    }
    return types;
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    const rejected: Rejection[] = [];
    const down = await this.writeRange(entries, 0, entries.length, rejected);
    if (!down) return rejected.length ? { status: 'ok', rejected } : OK;
    return { status: 'unavailable', accepted: down.at, reason: down.reason, ...(rejected.length ? { rejected } : {}) };
  }

  /**
   * Writes entries[from..to); on a data error bisects, so each good half commits and only the bad
   * rows are rejected. Returns where the backend went down (everything before `at` is written or
   * rejected), or undefined when the whole range is handled.
   */
  private async writeRange(entries: SinkEntry[], from: number, to: number, rejected: Rejection[]): Promise<{ at: number; reason: string } | undefined> {
    const f = await this.statement(entries.slice(from, to));
    if (!f) return undefined;
    if (f.kind === 'down') return { at: from, reason: this.downReason(f) };
    if (to - from === 1) {
      rejected.push({ index: from, reason: `postgres ${f.reason}` });
      return undefined;
    }
    const mid = from + Math.ceil((to - from) / 2);
    return (await this.writeRange(entries, from, mid, rejected)) ?? (await this.writeRange(entries, mid, to, rejected));
  }

  /** One statement for the rows; undefined when it committed. */
  private async statement(rows: SinkEntry[]): Promise<Failure | undefined> {
    try {
      const { client, types } = await this.ready();
      if (this.config.mode === 'copy') {
        await pipeline(Readable.from([copyText(this.config.shape, types, rows)]), client.query((await import('pg-copy-streams')).from(copySql(this.config.shape))));
        this.inserted += rows.length;
      } else {
        const r = await client.query(keyedInsertSql(this.config.shape, types), columnArrays(this.config.shape, types, rows));
        const n = r.rowCount ?? 0;
        this.inserted += n;
        this.duplicates += rows.length - n;
      }
      this.schemaAlarm = false;
      return undefined;
    } catch (err) {
      const f = classify(err);
      if (f.kind === 'down') {
        // the next attempt reconnects and re-reads the table: it may be back, or changed
        if (!f.schema) this.drop();
        this.types = undefined;
      }
      return f;
    }
  }

  private downReason(f: Failure & { kind: 'down' }): string {
    const where = `postgres table ${this.config.tableName}`;
    if (!f.schema) return `${where}: ${f.reason}`;
    const reason = `${where}: ${f.reason} (a schema problem, not bad data: rows wait in rescue until the table is fixed)`;
    if (!this.schemaAlarm) (this.config.alarm ?? ((l: string) => process.stderr.write(`${l}\n`)))(`ERROR ${reason}`);
    this.schemaAlarm = true;
    return reason;
  }

  async reconnect(): Promise<boolean> {
    try {
      const { client } = await this.ready();
      await client.query('SELECT 1');
      return true;
    } catch (err) {
      const f = classify(err);
      if (f.kind === 'down' && f.schema) this.downReason(f);
      else this.drop();
      this.types = undefined;
      return false;
    }
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    this.broken = undefined;
    this.types = undefined;
    void c?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
