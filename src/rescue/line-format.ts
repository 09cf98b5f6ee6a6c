import { isAscii, isUtf8 } from 'node:buffer';
import { crc32Range } from '../platform/crc32.js';
import { recordJson } from '../platform/record-json.js';
import type { Rec, SinkEntry } from '../record.js';

/**
 * Rescue line format, one JSON object per `\n`-terminated line, UTF-8. Writers write version 3:
 *   {"version":3,"id":"<source key>:<fingerprint>:<byte offset>","crc":"<8 hex>","record":{...}}
 *   {"version":3,"id":"...","crc":"<8 hex>","raw":"..."}
 * `crc` is the CRC-32 (zlib's, as `node:zlib` crc32 gives it) of the UTF-8 bytes of the payload
 * text, as 8 lowercase hex digits: the payload is the value of the last key (`record`'s object text
 * exactly as JSON.stringify wrote it, or `raw`'s quoted JSON string) up to, not including, the
 * line's closing `}`; the payload's key says the kind. The payload is always the last key, so a
 * reader validates a line from its bytes without parsing it: check the prefix, find the end of the
 * id string, read the crc, CRC the payload slice. A json sink then writes the slice as stored
 * (SinkEntry.json); sinks that need fields parse it when they first ask (lazily). The CRC has a
 * fixed width so the writer turns a whole batch into bytes at once and fills each line's CRC in
 * afterwards (see encodeRescueBatch).
 * Version 2 (older writers; still read) has a `kind` key and a decimal crc, keys in this order:
 *   {"version":2,"kind":"record","id":"...","crc":<u32>,"record":{...}}   {"version":2,"kind":"raw","id":"...","crc":<u32>,"raw":"..."}
 * Version 1 (still read) has no `crc`:
 *   {"version":1,"kind":"record","id":"...","record":{...}}   {"version":1,"kind":"raw","id":"...","raw":"..."}
 * and is validated by a full JSON.parse (plus a UTF-8 check: a mangled byte never replays as U+FFFD).
 * The record is exactly what reached the sink (after parsing, routing and tags), so replaying it
 * through the same formatter gives byte-identical output. Golden file: test/fixtures/rescue-lines.jsonl.
 */
export const RESCUE_LINE_VERSION = 3;

/** One entry's rescue line, `\n` included (the batch encoder's bytes as text). */
export function encodeRescueLine(e: SinkEntry): string {
  return encodeRescueBatch([e]).toString('utf8');
}

/**
 * The rescue lines of a batch as bytes. Lines are built into strings of about CHUNK characters,
 * each written into one buffer with a placeholder for every CRC; then each line's CRC is computed
 * over its payload bytes and written over its placeholder. Why this shape (measured, spilling 1M
 * lines): a string per line plus a native zlib crc32 per line cost as much as serialising the
 * records; one string for the whole batch (~150 KB) is a large heap object whose flattening costs
 * more than the JSON.stringify calls; chunks of ~32 KB flatten cheaply. The record text the json
 * formatter kept on the entry is reused; nothing is kept on the entry here.
 */
export function encodeRescueBatch(entries: readonly SinkEntry[]): Buffer {
  const payloads = new Array<string>(entries.length);
  let chars = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const p = e.kind === 'raw' ? JSON.stringify(e.raw ?? '') : (e.json ?? recordJson(e.record ?? {}, e.plain));
    payloads[i] = p;
    chars += p.length + e.id.length;
  }
  // room for ASCII text (one byte a character, id escapes aside); the buffer grows for the rest
  let buf = Buffer.allocUnsafe(chars + 64 * entries.length);
  // per line: where its payload starts and ends, as offsets in `buf` once its chunk is written
  const marks: number[] = [];
  let off = 0;
  let text = '';
  let first = 0; // the first mark of the chunk in `text`
  const flush = (): void => {
    // a write stops short when out of room: make sure of room first (3 bytes a UTF-16 unit at most)
    if (buf.length - off < 3 * text.length) {
      const need = off + Buffer.byteLength(text);
      if (buf.length < need) {
        const grown = Buffer.allocUnsafe(Math.max(need, 2 * buf.length));
        buf.copy(grown, 0, 0, off);
        buf = grown;
      }
    }
    const n = buf.write(text, off);
    if (n !== text.length) toByteOffsets(text, off, marks, first); // not all ASCII
    off += n;
    text = '';
    first = marks.length;
  };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (PLAIN_ID.test(e.id)) {
      text += '{"version":3,"id":"';
      text += e.id;
      text += e.kind === 'raw' ? QUOTE_RAW_HEAD : QUOTE_RECORD_HEAD;
    } else {
      text += '{"version":3,"id":';
      text += JSON.stringify(e.id);
      text += e.kind === 'raw' ? RAW_HEAD : RECORD_HEAD;
    }
    marks.push(off + text.length);
    text += payloads[i]!;
    marks.push(off + text.length);
    text += '}\n';
    if (text.length >= CHUNK) flush();
  }
  flush();
  for (let j = 0; j < marks.length; j += 2) {
    const from = marks[j]!;
    // the crc digits end where `","record":` or `","raw":` begins, just before the payload
    writeHex8(buf, from - (buf[from - 3] === 0x77 ? RAW_HEAD : RECORD_HEAD).length + CRC_AT, crc32Range(buf, from, marks[j + 1]!));
  }
  return buf.subarray(0, off);
}

const RECORD_HEAD = ',"crc":"00000000","record":';
const RAW_HEAD = ',"crc":"00000000","raw":';
const QUOTE_RECORD_HEAD = `"${RECORD_HEAD}`;
const QUOTE_RAW_HEAD = `"${RAW_HEAD}`;
/** Offset of the crc digits in either head. */
const CRC_AT = ',"crc":"'.length;
const CHUNK = 32 * 1024;

/**
 * Rewrites the marks from index `first` on, offsets in `buf` computed as if `text` (written at
 * `base`) were one byte a character, into true UTF-8 byte offsets. No mark splits a surrogate pair:
 * marks fall between strings that are each well formed (JSON.stringify output).
 */
function toByteOffsets(text: string, base: number, marks: number[], first: number): void {
  let char = 0;
  let bytes = 0;
  for (let j = first; j < marks.length; j++) {
    const at = marks[j]! - base;
    bytes += Buffer.byteLength(text.slice(char, at));
    char = at;
    marks[j] = base + bytes;
  }
}

const HEX = Buffer.from('0123456789abcdef');

function writeHex8(buf: Buffer, at: number, v: number): void {
  for (let k = 7; k >= 0; k--) {
    buf[at + k] = HEX[v & 15]!;
    v >>>= 4;
  }
}

/** Ids are `<source key>:<fingerprint>:<byte offset>`: nothing in them needs JSON escaping, so skip the call. */
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

const V3_PREFIX = Buffer.from('{"version":3,"id":"');
const CRC3_KEY = Buffer.from(',"crc":"');
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
 * Decodes the line `buf[start, stop)` (no `\n`); `ascii`, when given, covers it. Version 3 and 2
 * lines are checked against their CRC without a parse; anything else falls back to the version 1
 * path (UTF-8 check + JSON.parse).
 */
export function decodeRescueBytes(buf: Buffer, start: number, stop: number, ascii?: AsciiText): DecodedLine {
  if (startsWithAt(buf, start, stop, V3_PREFIX)) return decodeCrcLine(buf, start + V3_PREFIX.length - 1, stop, undefined, ascii);
  const isRecord = startsWithAt(buf, start, stop, V2_RECORD);
  if (isRecord || startsWithAt(buf, start, stop, V2_RAW)) return decodeCrcLine(buf, start + (isRecord ? V2_RECORD.length : V2_RAW.length) - 1, stop, isRecord, ascii);
  if (!isUtf8(buf.subarray(start, stop))) return { ok: false, reason: 'not valid UTF-8' };
  return decodeJsonLine(buf.toString('utf8', start, stop));
}

/**
 * A version 3 line (`v2Record` undefined: the payload key says the kind) or a version 2 line
 * (`v2Record`: what its `kind` said), from the id's opening quote at `idStart`.
 */
function decodeCrcLine(buf: Buffer, idStart: number, stop: number, v2Record: boolean | undefined, ascii: AsciiText | undefined): DecodedLine {
  const v3 = v2Record === undefined;
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
  let p: number;
  let crc = 0;
  if (v3) {
    if (!startsWithAt(buf, idEnd, stop, CRC3_KEY)) return { ok: false, reason: 'missing crc' };
    p = idEnd + CRC3_KEY.length;
    if (stop - p < 9) return { ok: false, reason: 'invalid crc' };
    for (const end = p + 8; p < end; p++) {
      const d = hexValue(buf[p]!);
      if (d < 0) return { ok: false, reason: 'invalid crc' };
      crc = crc * 16 + d;
    }
    if (buf[p++] !== QUOTE) return { ok: false, reason: 'invalid crc' };
  } else {
    if (!startsWithAt(buf, idEnd, stop, CRC_KEY)) return { ok: false, reason: 'missing crc' };
    p = idEnd + CRC_KEY.length;
    const digits = p;
    for (; p < stop && buf[p]! >= 0x30 && buf[p]! <= 0x39 && p - digits < 10; p++) crc = crc * 10 + buf[p]! - 0x30;
    if (p === digits) return { ok: false, reason: 'missing crc' };
  }
  const isRecord = v3 ? startsWithAt(buf, p, stop, RECORD_KEY) : v2Record;
  const key = isRecord ? RECORD_KEY : RAW_KEY;
  if (!startsWithAt(buf, p, stop, key) || buf[stop - 1] !== CLOSE) return { ok: false, reason: `not a version ${v3 ? 3 : 2} layout` };
  const from = p + key.length;
  if (crc32Range(buf, from, stop - 1) !== crc) return { ok: false, reason: 'crc mismatch' };
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

/** 0–15 for a lowercase hex digit (what the writer writes), else -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
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

/** Decodes one line of text, any version; versions 3 and 2 are checked against their CRC. */
export function decodeRescueLine(line: string): DecodedLine {
  if (!line.startsWith('{"version":3,') && !line.startsWith('{"version":2,')) return decodeJsonLine(line);
  const buf = Buffer.from(line);
  return decodeRescueBytes(buf, 0, buf.length);
}

/** Any layout, by a full parse: version 1 lines (a version 3 or 2 line that gets here is not in its layout). */
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
