import { crc32 } from 'node:zlib';
import { EVENT_TYPES, type QueueEvent } from '../job-state.js';

/**
 * WAL record format: one JSON object per line,
 *   {"seq":N,"type":"ENQUEUE|DISPATCH|ACK|RETRY|TIMEOUT|DEAD","job":"...","ts":ms,"data":{...},"crc":C}
 * where C is the CRC32 (zlib) of the exact UTF-8 bytes of the line up to (not including) `,"crc":`,
 * with `}` appended — that is, of the same object serialised without its crc. Key order is fixed.
 * seq is strictly increasing across segments and never resets.
 */
export function encodeEvent(ev: QueueEvent): string {
  const body = `{"seq":${ev.seq},"type":"${ev.type}","job":${JSON.stringify(ev.job)},"ts":${ev.ts},"data":${JSON.stringify(ev.data)}`;
  return `${body},"crc":${crc32(`${body}}`)}}\n`;
}

export type DecodeResult = { ok: true; event: QueueEvent } | { ok: false; reason: 'crc' | 'json' | 'shape' };

const CRC_MARK = ',"crc":';

/** Decodes one line (without its newline). */
export function decodeEvent(line: string): DecodeResult {
  const at = line.lastIndexOf(CRC_MARK);
  if (at < 0 || !line.endsWith('}')) return { ok: false, reason: 'json' };
  const crcText = line.slice(at + CRC_MARK.length, -1);
  if (!/^\d+$/.test(crcText)) return { ok: false, reason: 'json' };
  if (crc32(`${line.slice(0, at)}}`) !== Number(crcText)) return { ok: false, reason: 'crc' };
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'json' };
  }
  if (!isEventShape(obj)) return { ok: false, reason: 'shape' };
  const { seq, type, job, ts, data } = obj;
  return { ok: true, event: { seq, type, job, ts, data } };
}

function isEventShape(o: unknown): o is QueueEvent {
  if (typeof o !== 'object' || o === null) return false;
  const e = o as Record<string, unknown>;
  return (
    Number.isSafeInteger(e.seq) &&
    typeof e.type === 'string' &&
    (EVENT_TYPES as readonly string[]).includes(e.type) &&
    typeof e.job === 'string' &&
    typeof e.ts === 'number' &&
    typeof e.data === 'object' &&
    e.data !== null
  );
}
