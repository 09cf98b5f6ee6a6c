import type { RuleConfig } from '../config/work-root-schema.js';
import type { FieldValue, Rec } from '../record.js';
import { captureNames, withoutCaptureNames } from '../platform/capture-names.js';

/**
 * Parse rules, tried in order; the first that matches makes the record: an ordered map of field
 * name to string | number | boolean | null. A regex rule takes its named groups (typed per
 * `types`; a value that does not convert means the rule does not match); a json rule takes a JSON
 * object line, nested values kept as JSON text.
 */
export interface Parsed {
  rule: string;
  record: Rec;
  /** Every string of the record is a piece of the line (a regex rule): a plain line makes a plain record. */
  fromLine: boolean;
}

type RuleFn = (line: string) => Rec | undefined;

function convert(v: string, t: string | undefined): FieldValue | undefined {
  switch (t) {
    case 'int':
      return isIntText(v) ? Number(v) : undefined;
    case 'float': {
      const n = Number(v);
      return v.trim() === '' || Number.isNaN(n) ? undefined : n;
    }
    case 'bool':
      return v === 'true' ? true : v === 'false' ? false : undefined;
    default:
      return v;
  }
}

/** `[+-]?[0-9]+`, by char codes: cheaper than a regex test on every field of every line. */
function isIntText(v: string): boolean {
  let i = v.charCodeAt(0) === 43 || v.charCodeAt(0) === 45 ? 1 : 0;
  if (i >= v.length) return false;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function compileRule(r: RuleConfig): RuleFn {
  if (r.json) {
    return (line) => {
      if (line.charCodeAt(0) !== 123 /* { */) return undefined;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        return undefined;
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
      const rec: Rec = {};
      for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
        rec[k] = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
      }
      return rec;
    };
  }
  const re = new RegExp(r.regex!);
  const plain = withoutCaptureNames(r.regex!);
  const exec = plain === undefined ? re : new RegExp(plain);
  const types = r.types ?? {};
  // Named groups by capture index: reading `m[i]` is far cheaper than materialising `m.groups` (a
  // dictionary-mode object) for every line, and records built in one key order share a shape.
  const fields = captureNames(re.source).flatMap((name, i) => (name === undefined ? [] : [{ name, index: i + 1, type: types[name] }]));
  return (line) => {
    const m = exec.exec(line);
    if (!m) return undefined;
    const rec: Rec = {};
    for (const f of fields) {
      const raw = m[f.index];
      if (raw === undefined) {
        rec[f.name] = null;
        continue;
      }
      const v = f.type === undefined ? raw : convert(raw, f.type);
      if (v === undefined) return undefined;
      rec[f.name] = v;
    }
    return rec;
  };
}

export function compileRules(rules: RuleConfig[]): (line: string) => Parsed | undefined {
  const compiled = rules.map((r) => ({ name: r.name, fn: compileRule(r), fromLine: !r.json }));
  return (line) => {
    for (const c of compiled) {
      const record = c.fn(line);
      if (record) return { rule: c.name, record, fromLine: c.fromLine };
    }
    return undefined;
  };
}
