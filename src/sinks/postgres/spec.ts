import type { SinkTypeSpec } from '../contract.js';
import { PostgresSink, type PostgresSinkConfig } from './postgres-sink.js';
import { isIdentifier, isTableName, tableShape } from './rows.js';
import { checkUrlParam } from '../url-param.js';

/** `type: postgres`: rows keyed by record id (SPEC section 3). */
export const postgresSinkType: SinkTypeSpec = {
  params: {
    url: { schema: { kind: 'string' }, required: true },
    table: { schema: { kind: 'string' }, required: true },
    columns: { schema: { kind: 'map', values: { kind: 'string' } } },
    id_column: { schema: { kind: 'string' }, default: 'id' },
    create: { schema: { kind: 'bool' }, default: false },
    mode: { schema: { kind: 'string', enum: ['keyed', 'copy'] }, default: 'keyed' },
    timeout_ms: { schema: { kind: 'int', min: 1 }, default: 30_000 },
  },
  validate: (p) => {
    const { problems } = checkUrlParam(p.url, ['postgres:', 'postgresql:'], 'postgres://user:password@host:port/database');
    const table = typeof p.table === 'string' ? p.table : '';
    if (p.table !== undefined && !isTableName(table)) problems.push(`table: ${JSON.stringify(table)} is not a table name (name or schema.name, letters, digits, _ and $)`);
    const idColumn = String(p.id_column);
    if (!isIdentifier(idColumn)) problems.push(`id_column: ${JSON.stringify(idColumn)} is not a column name`);
    const columns = (p.columns ?? {}) as Record<string, string>;
    for (const c of Object.keys(columns)) {
      if (!isIdentifier(c)) problems.push(`columns.${c}: not a column name`);
      if (c === idColumn) problems.push(`columns.${c}: the id column takes the record id; map other columns only`);
    }
    if (p.columns !== undefined && Object.keys(columns).length === 0) problems.push('columns: map at least one column (or leave columns out for (id, record jsonb))');
    return problems;
  },
  create: (p) => new PostgresSink(postgresSinkConfig(p)),
};

export function postgresSinkConfig(p: Record<string, unknown>): PostgresSinkConfig {
  return {
    url: String(p.url),
    tableName: String(p.table),
    shape: tableShape(String(p.table), String(p.id_column), p.columns as Record<string, string> | undefined),
    create: p.create === true,
    mode: p.mode === 'copy' ? 'copy' : 'keyed',
    queryTimeoutMs: Number(p.timeout_ms),
  };
}
