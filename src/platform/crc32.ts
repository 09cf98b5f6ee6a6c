/**
 * CRC-32 (the zlib / IEEE 802.3 polynomial, the value `node:zlib` crc32 gives) of a byte range of a
 * buffer, computed in JS by slicing-by-8 tables. It exists for short ranges: a rescue line's
 * payload is about 200 bytes, where the native call's fixed cost (a `subarray`, argument checks,
 * the binding) outweighs the work; measured on 512 payloads of 130–230 bytes, this takes about
 * 0.15 µs a line against 0.23 µs for `crc32(buf.subarray(a, b))`. For long ranges (kilobytes and
 * more) the native call is faster.
 */
const TABLES = makeTables();

function makeTables(): Int32Array {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** CRC-32 of `buf[start, end)`; equals `zlib.crc32(buf.subarray(start, end))`. */
export function crc32Range(buf: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
