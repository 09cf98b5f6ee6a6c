import { isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/**
 * A small schema language checked against YAML nodes rather than plain values, so that every
 * problem can name the file, line and column and the key at fault. Validation is pure: it returns
 * the value with defaults filled in plus a list of problems; nothing here touches the disk.
 */
export type Schema =
  | { kind: 'string'; enum?: readonly string[]; pattern?: RegExp; patternHint?: string }
  | { kind: 'int'; min?: number; max?: number }
  | { kind: 'number'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'scalar' }
  | { kind: 'array'; items: Schema; minItems?: number }
  | { kind: 'stringOrArray' }
  | { kind: 'map'; values: Schema }
  | { kind: 'object'; fields: Record<string, Field>; open?: boolean }
  | { kind: 'any' };

export interface Field {
  schema: Schema;
  required?: boolean;
  default?: unknown;
}

export interface Problem {
  file: string;
  line: number;
  col: number;
  key: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.key ? `${p.key}: ` : ''}${p.message}`;
}

export interface Ctx {
  file: string;
  lines: LineCounter;
  problems: Problem[];
}

export function problemAt(ctx: Ctx, node: Node | null | undefined, key: string, message: string): void {
  const offset = node?.range?.[0] ?? 0;
  const pos = ctx.lines.linePos(offset);
  ctx.problems.push({ file: ctx.file, line: pos.line, col: pos.col, key, message });
}

function typeName(node: unknown): string {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return 'nothing';
}

/** Checks `node` against `schema`; returns the plain value (defaults applied) or undefined. */
export function check(node: Node | null | undefined, schema: Schema, ctx: Ctx, key: string): unknown {
  switch (schema.kind) {
    case 'any':
      return node ? (node.toJSON() as unknown) : undefined;
    case 'string':
    case 'int':
    case 'number':
    case 'bool':
    case 'scalar':
      return checkScalar(node, schema, ctx, key);
    case 'stringOrArray': {
      if (isSeq(node)) return check(node, { kind: 'array', items: { kind: 'string' } }, ctx, key);
      const s = check(node, { kind: 'string' }, ctx, key);
      return s === undefined ? undefined : [s];
    }
    case 'array': {
      if (!isSeq(node)) {
        problemAt(ctx, node, key, `expected a list, got ${typeName(node)}`);
        return undefined;
      }
      if (schema.minItems !== undefined && node.items.length < schema.minItems) {
        problemAt(ctx, node, key, `expected at least ${schema.minItems} item(s)`);
      }
      return node.items.map((item, i) => check(item as Node, schema.items, ctx, `${key}[${i}]`));
    }
    case 'map': {
      if (!isMap(node)) {
        problemAt(ctx, node, key, `expected a map, got ${typeName(node)}`);
        return undefined;
      }
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const k = String(isScalar(pair.key) ? pair.key.value : pair.key);
        out[k] = check(pair.value as Node, schema.values, ctx, key ? `${key}.${k}` : k);
      }
      return out;
    }
    case 'object':
      return checkObject(node, schema, ctx, key);
  }
}

function checkScalar(node: Node | null | undefined, schema: Schema, ctx: Ctx, key: string): unknown {
  if (!isScalar(node)) {
    problemAt(ctx, node, key, `expected ${schema.kind}, got ${typeName(node)}`);
    return undefined;
  }
  const v = node.value;
  switch (schema.kind) {
    case 'string':
      if (typeof v !== 'string') {
        problemAt(ctx, node, key, `expected a string, got ${typeName(node)}`);
        return undefined;
      }
      if (schema.enum && !schema.enum.includes(v)) {
        problemAt(ctx, node, key, `expected one of ${schema.enum.join(' | ')}, got ${JSON.stringify(v)}`);
        return undefined;
      }
      if (schema.pattern && !schema.pattern.test(v)) {
        problemAt(ctx, node, key, `${JSON.stringify(v)} is not ${schema.patternHint ?? `matching ${String(schema.pattern)}`}`);
        return undefined;
      }
      return v;
    case 'int':
    case 'number': {
      if (typeof v !== 'number' || (schema.kind === 'int' && !Number.isInteger(v))) {
        problemAt(ctx, node, key, `expected ${schema.kind === 'int' ? 'an integer' : 'a number'}, got ${typeName(node)}`);
        return undefined;
      }
      if (schema.min !== undefined && v < schema.min) problemAt(ctx, node, key, `must be >= ${schema.min}, got ${v}`);
      if (schema.max !== undefined && v > schema.max) problemAt(ctx, node, key, `must be <= ${schema.max}, got ${v}`);
      return v;
    }
    case 'bool':
      if (typeof v !== 'boolean') {
        problemAt(ctx, node, key, `expected true or false, got ${typeName(node)}`);
        return undefined;
      }
      return v;
    default:
      return v;
  }
}

function checkObject(node: Node | null | undefined, schema: Extract<Schema, { kind: 'object' }>, ctx: Ctx, key: string): unknown {
  const out: Record<string, unknown> = {};
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) {
    // An absent or empty section takes every default.
  } else if (!isMap(node)) {
    problemAt(ctx, node, key, `expected a map, got ${typeName(node)}`);
    return undefined;
  } else {
    for (const pair of node.items) {
      const k = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const path = key ? `${key}.${k}` : k;
      const field = schema.fields[k];
      if (!field) {
        if (schema.open) out[k] = (pair.value as Node | null)?.toJSON?.() ?? null;
        else problemAt(ctx, pair.key as Node, path, `unknown key (expected one of: ${Object.keys(schema.fields).join(', ')})`);
        continue;
      }
      out[k] = check(pair.value as Node, field.schema, ctx, path);
    }
  }
  for (const [k, field] of Object.entries(schema.fields)) {
    if (out[k] !== undefined) continue;
    if (field.required && !(k in out)) problemAt(ctx, node, key ? `${key}.${k}` : k, 'missing required key');
    else if (field.default !== undefined) out[k] = structuredClone(field.default);
    else if (field.schema.kind === 'object' && !Object.values(field.schema.fields).some((f) => f.required)) {
      // An absent section with nothing required takes its defaults (e.g. `rescue:` in wparse.yaml).
      out[k] = checkObject(null, field.schema, ctx, key ? `${key}.${k}` : k);
    }
  }
  return out;
}
