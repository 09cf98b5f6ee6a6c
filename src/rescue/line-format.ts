import type { SinkEntry } from '../record.js';

/**
 * Rescue line format, one JSON object per `\n`-terminated line:
 *   {"version":1,"kind":"record","id":"<source key>:<byte offset>","record":{...}}
 *   {"version":1,"kind":"raw","id":"...","raw":"..."}
 * The record is exactly what reached the sink (after parsing, routing and tags), so replaying it
 * through the same formatter gives byte-identical output.
 */
export function encodeRescueLine(e: SinkEntry): string {
  const id = PLAIN_ID.test(e.id) ? `"${e.id}"` : JSON.stringify(e.id);
  return e.kind === 'raw'
    ? `{"version":1,"kind":"raw","id":${id},"raw":${JSON.stringify(e.raw ?? '')}}\n`
    : `{"version":1,"kind":"record","id":${id},"record":${JSON.stringify(e.record ?? {})}}\n`;
}

/** Ids are `<source key>:<byte offset>`: nothing in them needs JSON escaping, so skip the call. */
const PLAIN_ID = /^[\w.:-]*$/;

/**
 * The record's JSON text inside a line our encoder wrote (`{"version":1,"kind":"record","id":…,
 * "record":<text>}`), or undefined for any other layout. Inside a JSON string every `"` is
 * escaped, so the first `,"record":` after the prefix is the key; four keys and the closing `}`
 * mean the text runs to the end. The text is then what JSON.stringify(record) gives.
 */
function recordText(line: string, o: Record<string, unknown>): string | undefined {
  if (!line.startsWith(RECORD_PREFIX) || line.charCodeAt(line.length - 1) !== 125) return undefined;
  if (Object.keys(o).length !== 4) return undefined;
  const at = line.indexOf(RECORD_KEY, RECORD_PREFIX.length);
  return at < 0 ? undefined : line.slice(at + RECORD_KEY.length, -1);
}

const RECORD_PREFIX = '{"version":1,"kind":"record","id":';
const RECORD_KEY = ',"record":';

export type DecodedLine = { ok: true; entry: SinkEntry } | { ok: false; reason: string };

export function decodeRescueLine(line: string): DecodedLine {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (typeof obj !== 'object' || obj === null) return { ok: false, reason: 'not a JSON object' };
  const o = obj as Record<string, unknown>;
  if (o.version !== 1) return { ok: false, reason: `unsupported version ${JSON.stringify(o.version)}` };
  if (typeof o.id !== 'string') return { ok: false, reason: 'missing string id' };
  if (o.kind === 'record' && typeof o.record === 'object' && o.record !== null && !Array.isArray(o.record)) {
    const entry: SinkEntry = { id: o.id, kind: 'record', record: o.record as SinkEntry['record'] & object };
    const json = recordText(line, o);
    if (json !== undefined) entry.json = json;
    return { ok: true, entry };
  }
  if (o.kind === 'raw' && typeof o.raw === 'string') return { ok: true, entry: { id: o.id, kind: 'raw', raw: o.raw } };
  return { ok: false, reason: `invalid kind ${JSON.stringify(o.kind)} or payload` };
}
