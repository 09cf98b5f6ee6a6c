import type { RuleConfig } from '../config/work-root-schema.js';
import type { FieldValue, Rec } from '../sinks/contract.js';

/**
 * Parse rules, tried in order; the first that matches makes the record: an ordered map of field
 * name to string | number | boolean | null. A regex rule takes its named groups (typed per
 * `types`; a value that does not convert means the rule does not match); a json rule takes a JSON
 * object line, nested values kept as JSON text.
 */
export interface Parsed {
  rule: string;
  record: Rec;
}

type RuleFn = (line: string) => Rec | undefined;

function convert(v: string, t: string | undefined): FieldValue | undefined {
  switch (t) {
    case 'int': {
      if (!/^[+-]?\d+$/.test(v)) return undefined;
      return Number(v);
    }
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
  const types = r.types ?? {};
  const typed = Object.keys(types).length > 0;
  return (line) => {
    const m = re.exec(line);
    if (!m?.groups) return undefined;
    if (!typed) return { ...m.groups };
    const rec: Rec = {};
    for (const k in m.groups) {
      const raw = m.groups[k];
      if (raw === undefined) {
        rec[k] = null;
        continue;
      }
      const v = convert(raw, types[k]);
      if (v === undefined) return undefined;
      rec[k] = v;
    }
    return rec;
  };
}

export function compileRules(rules: RuleConfig[]): (line: string) => Parsed | undefined {
  const compiled = rules.map((r) => ({ name: r.name, fn: compileRule(r) }));
  return (line) => {
    for (const c of compiled) {
      const record = c.fn(line);
      if (record) return { rule: c.name, record };
    }
    return undefined;
  };
}
