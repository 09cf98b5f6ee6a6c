import type { SinkEntry } from '../sinks/contract.js';

/**
 * Rescue line format, one JSON object per `\n`-terminated line:
 *   {"version":1,"kind":"record","id":"<source key>:<byte offset>","record":{...}}
 *   {"version":1,"kind":"raw","id":"...","raw":"..."}
 * The record is exactly what reached the sink (after parsing, routing and tags), so replaying it
 * through the same formatter gives byte-identical output.
 */
export function encodeRescueLine(e: SinkEntry): string {
  return e.kind === 'raw'
    ? `{"version":1,"kind":"raw","id":${JSON.stringify(e.id)},"raw":${JSON.stringify(e.raw ?? '')}}\n`
    : `{"version":1,"kind":"record","id":${JSON.stringify(e.id)},"record":${JSON.stringify(e.record ?? {})}}\n`;
}

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
    return { ok: true, entry: { id: o.id, kind: 'record', record: o.record as SinkEntry['record'] & object } };
  }
  if (o.kind === 'raw' && typeof o.raw === 'string') return { ok: true, entry: { id: o.id, kind: 'raw', raw: o.raw } };
  return { ok: false, reason: `invalid kind ${JSON.stringify(o.kind)} or payload` };
}
