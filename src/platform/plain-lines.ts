/**
 * For each line `buf[starts[i], stops[i])` of a batch, 1 when its bytes hold no `"`, `\` nor
 * control byte (< 0x20), else 0. Such a line decoded from UTF-8 has no character JSON escapes (a
 * byte >= 0x80 decodes to U+0080 or above, U+FFFD when invalid, never a lone surrogate), nor has
 * any piece of it: a regex rule's record of it goes into JSON as it is (`recordJson(r, true)`).
 *
 * The scan runs in a tiny WebAssembly function, 16 bytes per step with SIMD: the batch's bytes are
 * copied into its memory once, then each line is one call. A regex over the decoded text (what
 * recordJson does otherwise) cost a tenth of wparse's CPU into a json sink; this costs about a
 * fifth of that. Where WebAssembly is unavailable (node --jitless) every line is reported 0
 * (unknown): recordJson then scans as before.
 */
export function plainLines(buf: Buffer, starts: readonly number[], stops: readonly number[]): Uint8Array {
  const n = starts.length;
  const out = new Uint8Array(n);
  if (n === 0 || !scanner) return out;
  const first = starts[0]!;
  const bytes = stops[n - 1]! - first;
  const { mem, scan } = scanner;
  const missing = Math.ceil(bytes / 65536) - mem.buffer.byteLength / 65536;
  if (missing > 0) mem.grow(missing);
  new Uint8Array(mem.buffer, 0, bytes).set(buf.subarray(first, first + bytes));
  for (let i = 0; i < n; i++) out[i] = scan(starts[i]! - first, stops[i]! - first);
  return out;
}

/** `scan(p, end)`: 1 when memory bytes [p, end) hold none of `"`, `\`, < 0x20; else 0. */
const I32 = 0x7f;
const V128 = 0x7b;
const SCAN_BODY = [
  0x02, 0x02, V128, 0x01, I32, // locals 2, 3: v, acc (v128); 4: b (i32); params 0, 1: p, end
  0x02, 0x40, 0x03, 0x40, // block, loop: 16 bytes at a time
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x20, 0x01, 0x4b, 0x0d, 0x01, // if p + 16 > end: break
  0x20, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x21, 0x02, // v = v128.load(p)
  0x20, 0x03, // acc
  0x20, 0x02, 0x41, 0x20, 0xfd, 0x0f, 0xfd, 0x26, 0xfd, 0x50, // | i8x16.lt_u(v, splat 0x20)
  0x20, 0x02, 0x41, 0x22, 0xfd, 0x0f, 0xfd, 0x23, 0xfd, 0x50, // | i8x16.eq(v, splat '"')
  0x20, 0x02, 0x41, 0xdc, 0x00, 0xfd, 0x0f, 0xfd, 0x23, 0xfd, 0x50, // | i8x16.eq(v, splat '\')
  0x21, 0x03, // -> acc
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, 0x0c, 0x00, // p += 16; continue
  0x0b, 0x0b, // end loop, block
  0x02, 0x40, 0x03, 0x40, // block, loop: the last bytes one at a time
  0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01, // if p >= end: break
  0x20, 0x00, 0x2d, 0x00, 0x00, 0x22, 0x04, 0x41, 0x20, 0x49, // (b = load8_u(p)) < 0x20
  0x20, 0x04, 0x41, 0x22, 0x46, 0x72, // || b == '"'
  0x20, 0x04, 0x41, 0xdc, 0x00, 0x46, 0x72, // || b == '\'
  0x04, 0x40, 0x41, 0x00, 0x0f, 0x0b, // then return 0
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, 0x0c, 0x00, // p += 1; continue
  0x0b, 0x0b, // end loop, block
  0x20, 0x03, 0xfd, 0x53, 0x45, // return !v128.any_true(acc)
  0x0b,
];

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
}

const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
const name = (s: string): number[] => [s.length, ...Buffer.from(s)];

const SCAN_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
  ...section(1, [0x01, 0x60, 0x02, I32, I32, 0x01, I32]), // type 0: (i32, i32) -> i32
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory, 1 page to start
  ...section(7, [0x02, ...name('mem'), 0x02, 0x00, ...name('scan'), 0x00, 0x00]), // exports
  ...section(10, [0x01, ...leb(SCAN_BODY.length), ...SCAN_BODY]), // code
]);

/** The little of the WebAssembly API used here (its types live in lib.dom, which this build leaves out). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

const scanner = ((): { mem: WasmMemory; scan: (p: number, end: number) => number } | undefined => {
  const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  try {
    const { exports } = new wasm!.Instance(new wasm!.Module(SCAN_MODULE));
    return { mem: exports.mem as WasmMemory, scan: exports.scan as (p: number, end: number) => number };
  } catch {
    return undefined; // no WebAssembly (node --jitless): plainLines reports every line unknown
  }
})();
