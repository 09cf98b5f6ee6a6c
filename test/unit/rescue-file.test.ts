import fc from 'fast-check';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { readLineBatches, type LineBatch } from '../../src/platform/line-reader.js';
import { RescueFile, splitBatches } from '../../src/recovery/rescue-file.js';
import { tmpDir } from '../helpers/tmp.js';

/** Every line as [file offset of its start, its bytes], and each batch's end offset. */
function flatten(batches: LineBatch[]): { lines: Array<[number, string]>; ends: number[] } {
  const lines: Array<[number, string]> = [];
  for (const b of batches) b.starts.forEach((s, i) => lines.push([b.base + s, b.buf.subarray(s, b.stops[i]).toString('latin1')]));
  return { lines, ends: batches.map((b) => b.end) };
}

describe('rescue file reading', () => {
  it('a small file read whole gives the same lines, offsets and batch ends as the streaming reader', async () => {
    const dir = tmpDir();
    const piece = fc.oneof(fc.constantFrom('\n', '\r\n', '\r', 'é', '\xff'), fc.string({ maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), fc.nat(40), async (pieces, batchSize, fromSeed) => {
        const bytes = Buffer.from(pieces.join(''), 'latin1');
        const file = path.join(dir, 'f.dat');
        writeFileSync(file, bytes);
        // resume points are line starts
        const starts = [0, ...[...bytes.keys()].filter((i) => bytes[i] === 10).map((i) => i + 1)].filter((s) => s <= bytes.length);
        const from = starts[fromSeed % starts.length]!;
        const streamed: LineBatch[] = [];
        for await (const b of readLineBatches({ file, from, batchSize, follow: false, clock: new ManualClock(0) })) streamed.push(b);
        const whole = [...splitBatches(bytes, from, batchSize)];
        expect(flatten(whole).lines).toEqual(flatten(streamed).lines);
        expect(flatten(whole).ends.at(-1) ?? from).toBe(flatten(streamed).ends.at(-1) ?? from);
        const rf = RescueFile.open(file)!;
        const viaFile: LineBatch[] = [];
        for await (const b of rf.batches(from, batchSize, new ManualClock(0))) viaFile.push(b);
        expect(flatten(viaFile)).toEqual(flatten(whole));
      }),
      { numRuns: 200 },
    );
  });

  it('identity: the same file keeps it, a new file under the same name gets another', () => {
    const file = path.join(tmpDir(), 'g-2026-11-22_10:00:00-0.dat');
    writeFileSync(file, 'a\nb\n');
    const a = RescueFile.open(file)!;
    const again = RescueFile.open(file)!;
    expect(again.identity).toBe(a.identity);
    writeFileSync(`${file}.new`, 'a\nc\n');
    writeFileSync(file, 'a\nc\n'); // same size, other bytes
    expect(RescueFile.open(file)!.identity).not.toBe(a.identity);
    expect(RescueFile.open(path.join(path.dirname(file), 'missing.dat'))).toBeUndefined();
  });
});

describe('a large rescue file replaced under its name while replayed', () => {
  it('another file moved over it after open: its lines are refused, not read under the first file identity', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'f.dat');
    const line = `${'a'.repeat(99)}\n`;
    writeFileSync(file, line.repeat(20_000)); // 2 MB: streamed, reopened by name
    const rf = RescueFile.open(file)!;
    const other = path.join(dir, 'other.dat');
    writeFileSync(other, `${'b'.repeat(99)}\n`.repeat(20_000));
    renameSync(other, file);
    const read: LineBatch[] = [];
    await expect(async () => {
      for await (const b of rf.batches(0, 512, new ManualClock(0))) read.push(b);
    }).rejects.toThrow(/was replaced while it was replayed/);
    expect(read).toEqual([]);
    // the file it opened, still there: read whole
    writeFileSync(file, line.repeat(20_000));
    const same = RescueFile.open(file)!;
    let lines = 0;
    for await (const b of same.batches(0, 512, new ManualClock(0))) lines += b.starts.length;
    expect(lines).toBe(20_000);
  });
});
