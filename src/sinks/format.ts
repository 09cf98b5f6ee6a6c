import { recordJson } from '../platform/record-json.js';
import type { Rec, SinkEntry } from '../record.js';

/**
 * Output formats, one record per line (golden files pin them):
 *   json        {"ip":"1.2.3.4","status":200}
 *   kv          ip: 1.2.3.4, status: 200          (strings with spaces, commas, quotes or newlines quoted)
 *   raw         1.2.3.4 200                       (values joined by one space)
 *   proto-text  { ip: "1.2.3.4" status: 200 }
 *   csv         1.2.3.4,200                       (RFC 4180 quoting; newlines written as \n)
 * A raw entry (a `miss` line) is written as its original text in every format. No output line ever
 * contains a newline: raw and kv escape it.
 */
export const FORMATS = ['json', 'kv', 'raw', 'proto-text', 'csv'] as const;
export type FormatName = (typeof FORMATS)[number];

type RecordFormatter = (r: Rec) => string;

const needsKvQuote = /[\s,"\\]|^$/;

function kvValue(v: Rec[string]): string {
  if (typeof v === 'string') return needsKvQuote.test(v) ? JSON.stringify(v) : v;
  return String(v);
}

function csvValue(v: Rec[string]): string {
  // RFC 4180 quoting, except that a newline is written as `\n`: one record per line, always.
  const s = v === null ? '' : String(v).replace(/\r?\n/g, '\\n');
  return /[",]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function rawValue(v: Rec[string]): string {
  return v === null ? '' : String(v).replace(/\r?\n/g, '\\n');
}

const FORMATTERS: Record<FormatName, RecordFormatter> = {
  json: recordJson,
  kv: (r) => {
    let out = '';
    for (const k in r) out += `${out ? ', ' : ''}${k}: ${kvValue(r[k]!)}`;
    return out;
  },
  raw: (r) => {
    let out = '';
    let first = true;
    for (const k in r) {
      out += (first ? '' : ' ') + rawValue(r[k]!);
      first = false;
    }
    return out;
  },
  'proto-text': (r) => {
    let out = '{';
    for (const k in r) {
      const v = r[k]!;
      out += ` ${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
    }
    return `${out} }`;
  },
  csv: (r) => {
    let out = '';
    let first = true;
    for (const k in r) {
      out += (first ? '' : ',') + csvValue(r[k]!);
      first = false;
    }
    return out;
  },
};

export type LineFormatter = (e: SinkEntry) => string;

/** Picks the formatter once, at sink setup: the hot path calls a plain function per entry. */
export function createFormatter(fmt: FormatName): LineFormatter {
  const f = FORMATTERS[fmt];
  const raw = (e: SinkEntry): string => (e.raw ?? '').replace(/\r?\n/g, '\\n');
  // json: the text is kept on the entry, so a spill of the same entry to rescue does not serialise it again
  if (fmt === 'json') return (e) => (e.kind === 'raw' ? raw(e) : (e.json ??= recordJson(e.record ?? {}, e.plain)));
  return (e) => (e.kind === 'raw' ? raw(e) : f(e.record ?? {}));
}

/** Formats a batch into one string with a trailing newline per line. */
export function formatBatch(format: LineFormatter, entries: readonly SinkEntry[]): string {
  let out = '';
  for (const e of entries) out += `${format(e)}\n`;
  return out;
}
