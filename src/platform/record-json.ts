import type { Rec } from '../record.js';

/**
 * `recordJson(r)` is exactly `JSON.stringify(r)` for a record, only faster: it writes the object
 * text itself instead of walking it generically, and wraps a string in quotes as it is when nothing
 * in it needs escaping (the common case) — JSON.stringify of the whole record was the biggest
 * single cost of `wparse` into a json sink (about a quarter of its CPU). The text must be
 * byte-identical (the json format and rescue lines promise it), so anything unusual is left to
 * JSON.stringify: a value that is not a scalar, a key that needs escaping. `plain` says the caller
 * knows no string value needs escaping (platform/plain-lines.ts): then none is scanned.
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

