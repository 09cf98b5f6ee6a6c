import type { Scalar } from '../../record.js';
import type { SinkEntry } from '../../record.js';

/**
 * How entries become rows, pure. The id column always holds the record id (`<source>:<offset>`,
 * stable across re-reads and replays), so `ON CONFLICT (id) DO NOTHING` makes every write
 * idempotent. Without a column map the row is `(id, record jsonb)`; with one, each column takes
 * its record field (absent → NULL; json/jsonb columns get the value as JSON).
 */
export interface TableShape {
  /** Quoted, possibly schema-qualified table name. */
  table: string;
  idColumn: string;
  /** Non-id columns in order, with the record field each takes; `$record` = the whole record. */
  columns: Array<{ column: string; field: string }>;
}

export const WHOLE_RECORD = '$record';

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export function isIdentifier(s: string): boolean {
  return IDENT.test(s);
}

/** `name` or `schema.name`, each part a plain identifier. */
export function isTableName(s: string): boolean {
  const parts = s.split('.');
  return parts.length <= 2 && parts.every(isIdentifier);
}

export const quoteIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;
export const quoteTable = (s: string): string => s.split('.').map(quoteIdent).join('.');

export function tableShape(table: string, idColumn: string, columns: Record<string, string> | undefined): TableShape {
  return {
    table: quoteTable(table),
    idColumn,
    columns: columns ? Object.entries(columns).map(([column, field]) => ({ column, field })) : [{ column: 'record', field: WHOLE_RECORD }],
  };
}

export function createTableSql(shape: TableShape): string {
  const cols = shape.columns.map((c) => `${quoteIdent(c.column)} ${c.field === WHOLE_RECORD ? 'jsonb' : 'text'}`);
  return `CREATE TABLE IF NOT EXISTS ${shape.table} (${quoteIdent(shape.idColumn)} text PRIMARY KEY${cols.map((c) => `, ${c}`).join('')})`;
}

const recordJson = (e: SinkEntry): string => (e.kind === 'raw' ? JSON.stringify({ raw: e.raw ?? '' }) : (e.json ?? JSON.stringify(e.record ?? {})));

function cell(e: SinkEntry, field: string, json: boolean): string | null {
  if (field === WHOLE_RECORD) return recordJson(e);
  const v: Scalar | undefined = e.record?.[field];
  if (v === undefined || v === null) return null;
  return json ? JSON.stringify(v) : String(v);
}

/**
 * Column-wise values: one array per column (id first), as `unnest` takes them. `types` holds each
 * column's SQL type (from the catalog), so json columns are known.
 */
export function columnArrays(shape: TableShape, types: readonly string[], entries: readonly SinkEntry[]): Array<Array<string | null>> {
  const out: Array<Array<string | null>> = [entries.map((e) => e.id)];
  shape.columns.forEach((c, k) => {
    const json = /^jsonb?$/.test(types[k + 1] ?? '');
    out.push(entries.map((e) => cell(e, c.field, json)));
  });
  return out;
}

/** One statement per batch: every column as one array parameter, cast to its column's type. */
export function keyedInsertSql(shape: TableShape, types: readonly string[]): string {
  const cols = [shape.idColumn, ...shape.columns.map((c) => c.column)].map(quoteIdent).join(', ');
  const arrays = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  return `INSERT INTO ${shape.table} (${cols}) SELECT * FROM unnest(${arrays}) ON CONFLICT (${quoteIdent(shape.idColumn)}) DO NOTHING`;
}

export function copySql(shape: TableShape): string {
  const cols = [shape.idColumn, ...shape.columns.map((c) => c.column)].map(quoteIdent).join(', ');
  return `COPY ${shape.table} (${cols}) FROM STDIN`;
}

/** COPY text format: tab-separated, `\N` for NULL, backslash escapes. */
export function copyText(shape: TableShape, types: readonly string[], entries: readonly SinkEntry[]): string {
  const cols = columnArrays(shape, types, entries);
  let out = '';
  for (let r = 0; r < entries.length; r++) {
    for (let c = 0; c < cols.length; c++) {
      const v = cols[c]![r]!;
      out += (c ? '\t' : '') + (v === null ? '\\N' : v.replace(/[\\\n\r\t]/g, copyEscape));
    }
    out += '\n';
  }
  return out;
}

function copyEscape(ch: string): string {
  return ch === '\\' ? '\\\\' : ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : '\\t';
}
