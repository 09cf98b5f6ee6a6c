import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRescueLine, encodeRescueLine } from '../../src/rescue/line-format.js';
import { createFormatter } from '../../src/sinks/format.js';
import type { SinkEntry } from '../../src/record.js';

const scalar = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null));
const record = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('1', '10', 'a b', '"q"', 'é')), scalar);
const id = fc.oneof(fc.constant('src:123'), fc.string());

describe('rescue line format', () => {
  it('round-trips every record and raw line; replayed json output equals a healthy run byte for byte', () => {
    const json = createFormatter('json');
    fc.assert(
      fc.property(id, record, fc.string(), (i, r, raw) => {
        const rec: SinkEntry = { id: i, kind: 'record', record: r };
        const line = encodeRescueLine(rec);
        expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
        const dec = decodeRescueLine(line.slice(0, -1));
        if (!dec.ok) throw new Error(dec.reason);
        expect(dec.entry.record).toEqual(JSON.parse(JSON.stringify(r)));
        expect(json(dec.entry)).toBe(json(rec)); // what wprescue writes = what wparse would have written
        const rawDec = decodeRescueLine(encodeRescueLine({ id: i, kind: 'raw', raw }).slice(0, -1));
        expect(rawDec).toEqual({ ok: true, entry: { id: i, kind: 'raw', raw } });
      }),
    );
  });

  it('lines in another layout still decode, and are formatted from the parsed record', () => {
    const json = createFormatter('json');
    for (const line of ['{"kind":"record","version":1,"id":"a","record":{"x":1}}', '{"version":1,"kind":"record","id":"a","record":{"x": 1},"extra":true}']) {
      const dec = decodeRescueLine(line);
      expect(dec.ok).toBe(true);
      if (dec.ok) expect(json(dec.entry)).toBe('{"x":1}');
    }
  });

  it('invalid lines say why', () => {
    expect(decodeRescueLine('{"version":1,"kind":"record"')).toEqual({ ok: false, reason: 'not valid JSON' });
    expect(decodeRescueLine('{"version":2,"kind":"raw","id":"a","raw":"x"}')).toEqual({ ok: false, reason: 'unsupported version 2' });
    expect(decodeRescueLine('{"version":1,"kind":"raw","raw":"x"}')).toEqual({ ok: false, reason: 'missing string id' });
    expect(decodeRescueLine('{"version":1,"kind":"record","id":"a","record":[1]}')).toMatchObject({ ok: false });
    expect(decodeRescueLine('[]')).toMatchObject({ ok: false });
  });
});
