import type { Rec } from '../record.js';

/**
 * `recordJson(r)` is exactly `JSON.stringify(r)` for a record, only faster: it writes the object
 * text itself instead of walking it generically, and wraps a string in quotes as it is when nothing
 * in it needs escaping (the common case) — JSON.stringify of the whole record was the biggest
 * single cost of `wparse` into a json sink (about a quarter of its CPU). The text must be
 * byte-identical (the json format and rescue lines promise it), so anything unusual is left to
 * JSON.stringify: a value that is not a scalar, a key that needs escaping. `plain` says the caller
 * knows no string value needs escaping (see `plainLines`): then none is scanned.
 */
export function recordJson(r: Rec, plain = false): string {
  let out = '{';
  for (const k in r) {
    // for..in also walks inherited enumerable keys, which JSON.stringify skips: leave odd objects to it
    if (!Object.hasOwn(r, k) || NEEDS_ESCAPE.test(k)) return JSON.stringify(r);
    const v = r[k];
    let text: string;
    switch (typeof v) {
      case 'string':
        text = plain || !NEEDS_ESCAPE.test(v) ? `"${v}"` : JSON.stringify(v);
        break;
      case 'number':
        // JSON writes a finite number as Number#toString does, and NaN / ±Infinity as null
        text = Number.isFinite(v) ? String(v) : 'null';
        break;
      case 'boolean':
        text = v ? 'true' : 'false';
        break;
      default:
        if (v !== null) return JSON.stringify(r); // not a scalar (undefined, an object): JSON.stringify's rules
        text = 'null';
    }
    out += out.length === 1 ? `"${k}":${text}` : `,"${k}":${text}`;
  }
  return `${out}}`;
}

/** What JSON.stringify escapes in a string: `"`, `\`, control characters and lone surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * For each line `buf[starts[i], stops[i])`, 1 when its bytes hold no `"`, `\`, nor control byte
 * (< 0x20), else 0. Such a line decoded from UTF-8 has no character JSON escapes (a byte >= 0x80
 * decodes to U+0080 or above, U+FFFD when invalid, never a lone surrogate), nor has any piece of
 * it: a regex rule's record then goes into JSON as it is (`recordJson(r, true)`). Four bytes at a
 * time with the bit tricks "has a byte < n" / "has a byte == n" (Bit Twiddling Hacks): about 3x
 * cheaper than a regex over the decoded text, which was a tenth of wparse's CPU into a json sink.
 */
export function plainLines(buf: Buffer, starts: readonly number[], stops: readonly number[]): Uint8Array {
  const out = new Uint8Array(starts.length);
  const words = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >> 2);
  const at = buf.byteOffset; // words index the whole ArrayBuffer: word w holds bytes [4w, 4w + 4) of it
  for (let l = 0; l < starts.length; l++) {
    const start = starts[l]!;
    const stop = stops[l]!;
    const wordFrom = (at + start + 3) >> 2;
    const wordTo = (at + stop) >> 2;
    let plain = true;
    if (wordFrom >= wordTo) {
      for (let i = start; i < stop && plain; i++) plain = plainByte(buf[i]!);
    } else {
      for (let i = start; i < (wordFrom << 2) - at && plain; i++) plain = plainByte(buf[i]!);
      for (let w = wordFrom; w < wordTo && plain; w++) {
        const x = words[w]!;
        const q = x ^ 0x22222222;
        const b = x ^ 0x5c5c5c5c;
        plain = ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) === 0;
      }
      for (let i = (wordTo << 2) - at; i < stop && plain; i++) plain = plainByte(buf[i]!);
    }
    out[l] = plain ? 1 : 0;
  }
  return out;
}

function plainByte(c: number): boolean {
  return c >= 0x20 && c !== 0x22 && c !== 0x5c;
}
