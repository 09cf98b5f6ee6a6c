import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainLines } from '../../src/platform/plain-lines.js';
import { recordJson } from '../../src/platform/record-json.js';
import type { Rec } from '../../src/record.js';

describe('recordJson is JSON.stringify for records, byte for byte', () => {
  it('on generated records: any keys, strings with escapes, surrogates, odd numbers', () => {
    const scalar = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.constantFrom(-0, NaN, Infinity, -Infinity, 1e21, 5e-324, true, false, null),
      fc.constantFrom('\ud800', 'a\udfffb', '"', '\\', '\u001f', '\u2028', 'é日本🚀'),
    );
    const key = fc.oneof(fc.string(), fc.constantFrom('1', '0', '10', 'a"b', '\n', '__proto__', 'constructor'));
    fc.assert(
      fc.property(fc.dictionary(key, scalar), (r) => {
        expect(recordJson(r as Rec)).toBe(JSON.stringify(r));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves what is not a plain record of scalars to JSON.stringify', () => {
    const odd = [
      { a: 1, b: undefined },
      { a: { toJSON: () => 'x' } },
      { a: [1, 2] },
      Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }),
      JSON.parse('{"__proto__":"p","b":"q"}') as object,
      { 2: 'two', 1: 'one', b: 'b' },
      {},
    ];
    for (const r of odd) expect(recordJson(r as Rec)).toBe(JSON.stringify(r));
  });
});

describe('plainLines finds the lines whose text JSON carries as it is', () => {
  const byte = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.constantFrom(0x00, 0x09, 0x0d, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0xed, 0xa0) },
  );

  it('agrees with JSON.stringify of every decoded line, at any alignment of buffer and lines', () => {
    fc.assert(
      fc.property(fc.array(fc.array(byte, { maxLength: 70, size: 'max' }), { minLength: 1, maxLength: 12 }), fc.nat(7), (lines, pad) => {
        // lines laid out with `\n` after a pad: a subarray of a bigger buffer, at an odd byteOffset
        const whole = Buffer.alloc(pad + lines.reduce((n, l) => n + l.length + 1, 0) + 5, 0x41);
        const buf = whole.subarray(pad);
        const starts: number[] = [];
        const stops: number[] = [];
        let at = 0;
        for (const l of lines) {
          starts.push(at);
          buf.set(l, at);
          at += l.length;
          stops.push(at);
          buf[at++] = 0x0a;
        }
        const flags = plainLines(buf, starts, stops);
        lines.forEach((_, i) => {
          const text = buf.toString('utf8', starts[i], stops[i]);
          expect(flags[i]).toBe(JSON.stringify(text) === `"${text}"` ? 1 : 0);
          // a plain line's pieces need no scan: recordJson(…, true) is still JSON.stringify
          if (flags[i]) {
            const rec = { whole: text, head: text.slice(0, 3), n: text.length };
            expect(recordJson(rec, true)).toBe(JSON.stringify(rec));
          }
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('finds each byte JSON escapes at every position of a line, whole 16-byte blocks and the tail alike', () => {
    for (const bad of [0x00, 0x09, 0x0d, 0x1f, 0x22, 0x5c]) {
      for (let at = 0; at < 50; at++) {
        const line = Buffer.alloc(50, 0x61);
        line[at] = bad;
        const buf = Buffer.concat([Buffer.from('x\n'), line, Buffer.from('\n'), Buffer.alloc(50, 0x62)]);
        expect([...plainLines(buf, [0, 2, 53], [1, 52, 103])]).toEqual([1, 0, 1]);
      }
    }
  });
});

