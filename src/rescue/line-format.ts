import { crc32 } from 'node:zlib';
import { isAscii, isUtf8 } from 'node:buffer';
import { recordJson } from '../platform/record-json.js';
import type { Rec, SinkEntry } from '../record.js';

/**
 * Rescue line format, one JSON object per `\n`-terminated line, UTF-8. Writers write version 2:
 *   {"version":2,"kind":"record","id":"<source key>:<byte offset>","crc":<u32>,"record":{...}}
 *   {"version":2,"kind":"raw","id":"...","crc":<u32>,"raw":"..."}
 * `crc` is the CRC-32 (zlib's, `node:zlib` crc32) of the UTF-8 bytes of the payload text: the
 * value of the last key (`record`'s object text exactly as JSON.stringify wrote it, or `raw`'s
 * quoted JSON string) up to, not including, the line's closing `}`. The payload is always the last
 * key, so a reader validates a line from its bytes without parsing it: check the prefix, find the
 * end of the id string, read the crc, CRC the payload slice. A json sink then writes the slice as
 * stored (SinkEntry.json); sinks that need fields parse it when they first ask (lazily).
 * Version 1 (older writers; readers still accept it) has no `crc`, keys in the same order:
 *   {"version":1,"kind":"record","id":"...","record":{...}}   {"version":1,"kind":"raw","id":"...","raw":"..."}
 * and is validated by a full JSON.parse (plus a UTF-8 check: a mangled byte never replays as U+FFFD).
 * The record is exactly what reached the sink (after parsing, routing and tags), so replaying it
 * through the same formatter gives byte-identical output. Golden file: test/fixtures/rescue-lines.jsonl.
 */
export const RESCUE_LINE_VERSION = 2;

export function encodeRescueLine(e: SinkEntry): string {
  const id = PLAIN_ID.test(e.id) ? `"${e.id}"` : JSON.stringify(e.id);
  if (e.kind === 'raw') {
    const raw = JSON.stringify(e.raw ?? '');
    return `{"version":2,"kind":"raw","id":${id},"crc":${crc32(raw)},"raw":${raw}}\n`;
  }
  // the json formatter keeps its text on the entry: a batch the sink failed is not serialised twice
  const json = e.json ?? recordJson(e.record ?? {}, e.plain);
  return `{"version":2,"kind":"record","id":${id},"crc":${crc32(json)},"record":${json}}\n`;
}

/** Ids are `<source key>:<byte offset>`: nothing in them needs JSON escaping, so skip the call. */
const PLAIN_ID = /^[\w.:-]*$/;

export type DecodedLine = { ok: true; entry: SinkEntry } | { ok: false; reason: string };

/**
 * A replayed record whose fields are parsed from its stored JSON text only when a sink asks for
 * them: the json formatter uses `json` and never touches `record`.
 */
class StoredRecordEntry implements SinkEntry {
  readonly kind = 'record' as const;
  private parsed: Rec | undefined;
  constructor(
    readonly id: string,
    readonly json: string,
  ) {}
  get record(): Rec {
    return (this.parsed ??= JSON.parse(this.json) as Rec);
  }
}

const V2_RECORD = Buffer.from('{"version":2,"kind":"record","id":"');
const V2_RAW = Buffer.from('{"version":2,"kind":"raw","id":"');
const CRC_KEY = Buffer.from(',"crc":');
const RECORD_KEY = Buffer.from(',"record":');
const RAW_KEY = Buffer.from(',"raw":');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE = 0x7d;

function startsWithAt(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * The bytes of a batch of lines as one string, when they are all ASCII (then a byte offset is a
 * character offset): slicing it is far cheaper than decoding each line on its own.
 */
export interface AsciiText {
  text: string;
  /** Offset in `buf` of the text's first character. */
  base: number;
}

export function asciiText(buf: Buffer, start: number, stop: number): AsciiText | undefined {
  return isAscii(buf.subarray(start, stop)) ? { text: buf.toString('latin1', start, stop), base: start } : undefined;
}

/**
 * Decodes the line `buf[start, stop)` (no `\n`); `ascii`, when given, covers it. Version 2 lines
 * are checked against their CRC without a parse; anything else falls back to the version 1 path
 * (UTF-8 check + JSON.parse).
 */
export function decodeRescueBytes(buf: Buffer, start: number, stop: number, ascii?: AsciiText): DecodedLine {
  const isRecord = startsWithAt(buf, start, stop, V2_RECORD);
  if (isRecord || startsWithAt(buf, start, stop, V2_RAW)) return decodeV2(buf, start, stop, isRecord, ascii);
  if (!isUtf8(buf.subarray(start, stop))) return { ok: false, reason: 'not valid UTF-8' };
  return decodeJsonLine(buf.toString('utf8', start, stop));
}

function decodeV2(buf: Buffer, start: number, stop: number, isRecord: boolean, ascii: AsciiText | undefined): DecodedLine {
  const idStart = start + (isRecord ? V2_RECORD.length : V2_RAW.length) - 1; // at the opening quote
  let i = idStart + 1;
  let escaped = false;
  for (; i < stop; i++) {
    const c = buf[i]!;
    if (c === BACKSLASH) {
      escaped = true;
      i++;
    } else if (c === QUOTE) break;
  }
  if (i >= stop) return { ok: false, reason: 'unterminated id' };
  const idEnd = i + 1;
  if (!startsWithAt(buf, idEnd, stop, CRC_KEY)) return { ok: false, reason: 'missing crc' };
  let p = idEnd + CRC_KEY.length;
  let crc = 0;
  const digits = p;
  for (; p < stop && buf[p]! >= 0x30 && buf[p]! <= 0x39 && p - digits < 10; p++) crc = crc * 10 + buf[p]! - 0x30;
  if (p === digits) return { ok: false, reason: 'missing crc' };
  const key = isRecord ? RECORD_KEY : RAW_KEY;
  if (!startsWithAt(buf, p, stop, key) || buf[stop - 1] !== CLOSE) return { ok: false, reason: 'not a version 2 layout' };
  const from = p + key.length;
  if (crc32(buf.subarray(from, stop - 1)) !== crc) return { ok: false, reason: 'crc mismatch' };
  const str = ascii ? (a: number, b: number) => ascii.text.slice(a - ascii.base, b - ascii.base) : (a: number, b: number) => buf.toString('utf8', a, b);
  let id: string;
  try {
    id = escaped ? (JSON.parse(str(idStart, idEnd)) as string) : str(idStart + 1, idEnd - 1);
  } catch {
    return { ok: false, reason: 'invalid id string' };
  }
  const text = str(from, stop - 1);
  if (isRecord) {
    if (buf[from] !== 0x7b) return { ok: false, reason: 'record is not a JSON object' };
    return { ok: true, entry: new StoredRecordEntry(id, text) };
  }
  try {
    const raw: unknown = JSON.parse(text);
    if (typeof raw === 'string') return { ok: true, entry: { id, kind: 'raw', raw } };
  } catch {
    // fall through: a raw payload that is not a JSON string
  }
  return { ok: false, reason: 'raw is not a JSON string' };
}

/**
 * The record's JSON text inside a version 1 line our encoder wrote (`{"version":1,"kind":"record",
 * "id":…,"record":<text>}`), or undefined for any other layout. Inside a JSON string every `"` is
 * escaped, so the first `,"record":` after the prefix is the key; four keys and the closing `}`
 * mean the text runs to the end. The text is then what JSON.stringify(record) gives.
 */
function recordText(line: string, o: Record<string, unknown>): string | undefined {
  if (!line.startsWith(V1_RECORD_PREFIX) || line.charCodeAt(line.length - 1) !== 125) return undefined;
  if (Object.keys(o).length !== 4) return undefined;
  const at = line.indexOf(V1_RECORD_KEY, V1_RECORD_PREFIX.length);
  return at < 0 ? undefined : line.slice(at + V1_RECORD_KEY.length, -1);
}

const V1_RECORD_PREFIX = '{"version":1,"kind":"record","id":';
const V1_RECORD_KEY = ',"record":';

/** Decodes one line of text, either version; version 2 lines are checked against their CRC. */
export function decodeRescueLine(line: string): DecodedLine {
  if (!line.startsWith('{"version":2,')) return decodeJsonLine(line);
  const buf = Buffer.from(line);
  return decodeRescueBytes(buf, 0, buf.length);
}

/** Any layout, by a full parse: version 1 lines (a version 2 line that gets here is not in its layout). */
function decodeJsonLine(line: string): DecodedLine {
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
    const entry: SinkEntry = { id: o.id, kind: 'record', record: o.record as Rec };
    const json = recordText(line, o);
    if (json !== undefined) entry.json = json;
    return { ok: true, entry };
  }
  if (o.kind === 'raw' && typeof o.raw === 'string') return { ok: true, entry: { id: o.id, kind: 'raw', raw: o.raw } };
  return { ok: false, reason: `invalid kind ${JSON.stringify(o.kind)} or payload` };
}
