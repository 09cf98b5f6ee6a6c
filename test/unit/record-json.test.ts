import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
