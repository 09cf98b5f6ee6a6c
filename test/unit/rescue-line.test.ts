import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { crc32Range } from '../../src/platform/crc32.js';
import { decodeRescueBytes, decodeRescueLine, encodeRescueBatch, encodeRescueLine } from '../../src/rescue/line-format.js';
import { createFormatter } from '../../src/sinks/format.js';
import type { SinkEntry } from '../../src/record.js';

const scalar = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null));
const record = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('1', '10', 'a b', '"q"', 'é')), scalar);
const id = fc.oneof(fc.constant('src:123'), fc.string());
const GOLDEN = path.join(import.meta.dirname, '../fixtures/rescue-lines.jsonl');

describe('rescue line format', () => {
  it('round-trips every record and raw line; replayed json output equals a healthy run byte for byte', () => {
    const json = createFormatter('json');
    fc.assert(
      fc.property(id, record, fc.string(), (i, r, raw) => {
        const rec: SinkEntry = { id: i, kind: 'record', record: r };
        const line = encodeRescueLine(rec);
        expect(line.startsWith('{"version":3,')).toBe(true);
        expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
        const dec = decodeRescueLine(line.slice(0, -1));
        if (!dec.ok) throw new Error(dec.reason);
        expect(dec.entry.id).toBe(i);
        expect(dec.entry.record).toEqual(JSON.parse(JSON.stringify(r)));
        expect(json(dec.entry)).toBe(json({ id: i, kind: 'record', record: r })); // what wprescue writes = what wparse would have written
        const rawDec = decodeRescueLine(encodeRescueLine({ id: i, kind: 'raw', raw }).slice(0, -1));
        expect(rawDec).toEqual({ ok: true, entry: { id: i, kind: 'raw', raw } });
      }),
    );
  });

  it('the golden file: version 3 is what the encoder writes, versions 1, 2 and 3 all decode', () => {
    const lines = readFileSync(GOLDEN, 'utf8').split('\n').slice(0, -1);
    const v3: SinkEntry[] = [
      { id: 'in.log:0', kind: 'record', record: { ip: '1.2.3.4', status: 200, ok: true, gone: null } },
      { id: 'in.log:57', kind: 'record', record: { msg: 'café 日本語 🚀', q: 'say "hi"\n' } },
      { id: 'odd "id"', kind: 'record', record: {} },
      { id: 'in.log:120', kind: 'raw', raw: 'unparsed line ☃' },
    ];
    const entries: SinkEntry[] = [
      ...v3,
      ...v3, // the same entries as version 2 wrote them
      { id: 'in.log:0', kind: 'record', record: { ip: '1.2.3.4', status: 200 } },
      { id: 'in.log:9', kind: 'raw', raw: 'old raw line' },
    ];
    expect(lines).toHaveLength(entries.length);
    v3.forEach((e, i) => expect(encodeRescueLine(e)).toBe(`${lines[i]}\n`));
    expect(encodeRescueBatch(v3).toString()).toBe(`${lines.slice(0, 4).join('\n')}\n`);
    expect(lines.slice(4, 8).every((l) => l.startsWith('{"version":2,'))).toBe(true);
    lines.forEach((l, i) => {
      const buf = Buffer.from(`junk${l}`);
      const dec = decodeRescueBytes(buf, 4, buf.length);
      if (!dec.ok) throw new Error(`line ${i + 1}: ${dec.reason}`);
      const e = entries[i]!;
      expect({ id: dec.entry.id, kind: dec.entry.kind, record: dec.entry.record, raw: dec.entry.raw }).toEqual({ id: e.id, kind: e.kind, record: e.record, raw: e.raw });
      if (e.kind === 'record') expect(dec.entry.json).toBe(JSON.stringify(e.record));
    });
  });

  it('a version 3 record is validated by CRC without a parse, and parsed only when a sink asks for fields', () => {
    const line = encodeRescueLine({ id: 'a:1', kind: 'record', record: { x: 1 } }).slice(0, -1);
    const dec = decodeRescueLine(line);
    if (!dec.ok) throw new Error(dec.reason);
    expect(Object.prototype.hasOwnProperty.call(dec.entry, 'record')).toBe(false);
    expect(createFormatter('json')(dec.entry)).toBe('{"x":1}');
    expect(createFormatter('kv')(dec.entry)).toBe('x: 1');
  });

  it('any changed byte in a version 3 line is caught (CRC or layout)', () => {
    const line = Buffer.from(encodeRescueLine({ id: 'a:1', kind: 'record', record: { msg: 'héllo wörld', n: 12345 } }).slice(0, -1));
    for (let i = 0; i < line.length; i++) {
      for (const flip of [0x01, 0x20, 0x80]) {
        const bad = Buffer.from(line);
        bad[i]! ^= flip;
        const dec = decodeRescueBytes(bad, 0, bad.length);
        // a flip inside the id or the version/kind keys may still give a valid line of another shape; never the same record silently changed
        if (dec.ok) expect(dec.entry.json === '{"msg":"héllo wörld","n":12345}' || dec.entry.kind === 'raw').toBe(true);
      }
    }
    const ff = Buffer.concat([line.subarray(0, 60), Buffer.alloc(3000, 0xff), line.subarray(60)]);
    expect(decodeRescueBytes(ff, 0, ff.length)).toMatchObject({ ok: false });
  });

  it('a record is serialised once: the rescue line reuses the text the json formatter kept on the entry', () => {
    const e: SinkEntry = { id: 'a:1', kind: 'record', record: { x: 1 } };
    expect(createFormatter('json')(e)).toBe('{"x":1}');
    e.record = { x: 2 }; // not serialised again: the kept text is what the sink was given
    const dec = decodeRescueLine(encodeRescueLine(e).slice(0, -1));
    expect(dec.ok && dec.entry.json).toBe('{"x":1}');
  });

  it('lines in another layout still decode (version 1), and are formatted from the parsed record', () => {
    const json = createFormatter('json');
    for (const line of ['{"kind":"record","version":1,"id":"a","record":{"x":1}}', '{"version":1,"kind":"record","id":"a","record":{"x": 1},"extra":true}']) {
      const dec = decodeRescueLine(line);
      expect(dec.ok).toBe(true);
      if (dec.ok) expect(json(dec.entry)).toBe('{"x":1}');
    }
  });

  it('invalid lines say why', () => {
    expect(decodeRescueLine('{"version":1,"kind":"record"')).toEqual({ ok: false, reason: 'not valid JSON' });
    expect(decodeRescueLine('{"version":2,"kind":"raw","id":"a","raw":"x"}')).toEqual({ ok: false, reason: 'missing crc' });
    expect(decodeRescueLine('{"version":2,"kind":"raw","id":"a","crc":1,"raw":"x"}')).toEqual({ ok: false, reason: 'crc mismatch' });
    expect(decodeRescueLine('{"version":4,"kind":"raw","id":"a","raw":"x"}')).toEqual({ ok: false, reason: 'unsupported version 4' });
    expect(decodeRescueLine('{"version":3,"id":"a","raw":"x"}')).toEqual({ ok: false, reason: 'missing crc' });
    expect(decodeRescueLine('{"version":3,"id":"a","crc":"00000000","raw":"x"}')).toEqual({ ok: false, reason: 'crc mismatch' });
    expect(decodeRescueLine('{"version":3,"id":"a","crc":"F60EF986","raw":"x"}')).toEqual({ ok: false, reason: 'invalid crc' }); // upper case: not what the writer writes
    expect(decodeRescueLine('{"version":3,"id":"a","crc":"f60ef98","raw":"x"}')).toEqual({ ok: false, reason: 'invalid crc' });
    expect(decodeRescueLine('{"version":3,"id":"a","crc":"f60ef986"}')).toMatchObject({ ok: false });
    expect(decodeRescueLine('{"version":3,"id":"a","crc":"f60ef986","raw":"x"}')).toEqual({ ok: true, entry: { id: 'a', kind: 'raw', raw: 'x' } });
    expect(decodeRescueLine('{"version":1,"kind":"raw","raw":"x"}')).toEqual({ ok: false, reason: 'missing string id' });
    expect(decodeRescueLine('{"version":1,"kind":"record","id":"a","record":[1]}')).toMatchObject({ ok: false });
    expect(decodeRescueLine('[]')).toMatchObject({ ok: false });
    const v1 = Buffer.concat([Buffer.from('{"version":1,"kind":"raw","id":"a","raw":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expect(decodeRescueBytes(v1, 0, v1.length)).toEqual({ ok: false, reason: 'not valid UTF-8' });
  });

  it('a batch encodes to the concatenation of its lines, whatever the text (multi-byte, escapes, chunk boundaries)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(id, fc.oneof(record, fc.string({ unit: 'grapheme' }))), { maxLength: 40 }), (items) => {
        const entries: SinkEntry[] = items.map(([i, p]) => (typeof p === 'string' ? { id: i, kind: 'raw', raw: p } : { id: i, kind: 'record', record: p }));
        const buf = encodeRescueBatch(entries);
        expect(buf.toString()).toBe(entries.map((e) => encodeRescueLine(e)).join(''));
        let at = 0;
        entries.forEach((e) => {
          const end = buf.indexOf(0x0a, at);
          const dec = decodeRescueBytes(buf, at, end);
          if (!dec.ok) throw new Error(dec.reason);
          expect(dec.entry.id).toBe(e.id);
          if (e.kind === 'raw') expect(dec.entry.raw).toBe(e.raw);
          else expect(dec.entry.json).toBe(JSON.stringify(e.record));
          at = end + 1;
        });
        expect(at).toBe(buf.length);
      }),
    );
    // large batches cross the encoder's chunks: ASCII and multi-byte lines on both sides of a boundary
    const big: SinkEntry[] = Array.from({ length: 3000 }, (_, n) => ({ id: `src:f00d:${n * 97}`, kind: 'record', record: { n, msg: n % 7 ? 'x'.repeat(n % 300) : `é 日本語 🚀 ${n}` } }));
    const buf = encodeRescueBatch(big);
    const lines = buf.toString().split('\n').slice(0, -1);
    expect(lines).toHaveLength(big.length);
    lines.forEach((l, n) => {
      const dec = decodeRescueLine(l);
      expect(dec.ok && dec.entry.id === big[n]!.id && dec.entry.json === JSON.stringify(big[n]!.record)).toBe(true);
    });
  });

  it('the CRC is zlib crc32 of the payload bytes, written as 8 lowercase hex digits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), (bytes, cut) => {
        const b = Buffer.from(bytes);
        const a = Math.min(cut, b.length);
        expect(crc32Range(b, a, b.length)).toBe(crc32(b.subarray(a)));
      }),
    );
    const line = encodeRescueLine({ id: 'a:1', kind: 'record', record: { x: 1 } });
    expect(line).toBe(`{"version":3,"id":"a:1","crc":"${crc32('{"x":1}').toString(16).padStart(8, '0')}","record":{"x":1}}\n`);
  });
});
