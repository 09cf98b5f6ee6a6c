import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLineBatches } from '../../src/platform/line-reader.js';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import { prng } from '../helpers/child.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

async function readAll(file: string, from: number, batchSize: number): Promise<Array<{ line: string; offset: number }>> {
  const out: Array<{ line: string; offset: number }> = [];
  for await (const b of readLineBatches({ file, from, batchSize, follow: false, clock: systemClock })) {
    expect(b.starts.length).toBeLessThanOrEqual(batchSize);
    b.starts.forEach((start, i) => out.push({ line: b.buf.toString('utf8', start, b.stops[i]), offset: b.base + start }));
    const last = b.starts.length - 1;
    if (last >= 0) expect(b.end).toBeGreaterThan(b.base + b.starts[last]!);
  }
  return out;
}

describe('line reader', () => {
  it('yields every line with its byte offset across 1 MiB chunk boundaries, long lines, CRLF and unicode', async () => {
    const rand = prng(42);
    const lines: string[] = [];
    let bytes = 0;
    while (bytes < 3.5 * (1 << 20)) {
      const r = rand();
      const len = r < 0.001 ? (1 << 20) + Math.floor(rand() * 5000) : Math.floor(rand() * 300);
      const line = `${lines.length} ${'é中x'.repeat(len / 3)}${r < 0.1 ? '\r' : ''}`;
      lines.push(line);
      bytes += Buffer.byteLength(line) + 1;
    }
    const file = path.join(tmpDir(), 'in.log');
    const text = `${lines.join('\n')}\n`;
    writeFileSync(file, text);
    const got = await readAll(file, 0, 97);
    expect(got.map((g) => g.line)).toEqual(lines.map((l) => l.replace(/\r$/, '')));
    const buf = Buffer.from(text);
    for (const g of got) expect(buf.toString('utf8', g.offset, buf.indexOf(10, g.offset)).replace(/\r$/, '')).toBe(g.line);
  });

  it('a line of many chunks (the read grows with it) between short lines: every line and offset exact', async () => {
    const long = `L${'0123456789'.repeat(900_000)}`; // 9 MB: the unfinished line spans reads of 1, 1, 2, 4 MiB
    const lines = ['a', long, ...Array.from({ length: 5000 }, (_, i) => `after ${i}`), 'b'.repeat(3 << 20), 'end'];
    const file = path.join(tmpDir(), 'in.log');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const got = await readAll(file, 0, 512);
    expect(got.map((g) => g.line)).toEqual(lines);
    let offset = 0;
    expect(got.map((g) => g.offset)).toEqual(lines.map((l) => ((offset += l.length + 1), offset - l.length - 1)));
  });

  it('resumes at a byte offset and counts a last line without newline (not in follow mode)', async () => {
    const file = path.join(tmpDir(), 'in.log');
    writeFileSync(file, 'one\ntwo\nthree');
    expect(await readAll(file, 4, 10)).toEqual([
      { line: 'two', offset: 4 },
      { line: 'three', offset: 8 },
    ]);
  });

  it('counts offsets in bytes of the file, not of decoded text: invalid UTF-8 cannot shift them', async () => {
    const file = path.join(tmpDir(), 'in.log');
    const bad = Buffer.concat([Buffer.from('a'), Buffer.alloc(3000, 0xff), Buffer.from('\n')]);
    writeFileSync(file, Buffer.concat([Buffer.from('héllo 日本語 😀\n'), bad, Buffer.from('next\n')]));
    const got = await readAll(file, 0, 2);
    const first = Buffer.byteLength('héllo 日本語 😀\n');
    expect(got.map((g) => g.offset)).toEqual([0, first, first + bad.length]);
    expect(got[2]!.line).toBe('next');
    expect(await readAll(file, first + bad.length, 10)).toEqual([{ line: 'next', offset: first + bad.length }]);
  });

  it('follow mode with a watcher: an idle file is polled ever less often (up to 10 × pollMs), at pollMs again once it grew', async () => {
    const file = path.join(tmpDir(), 'in.log');
    writeFileSync(file, 'a\n');
    const clock = new ManualClock(0);
    const polls: number[] = [];
    const got: string[] = [];
    const ac = new AbortController();
    const reader = (async () => {
      const batches = readLineBatches({
        file, from: 0, batchSize: 10, follow: true, clock, signal: ac.signal, pollMs: 100,
        wake: () => new Promise<void>(() => undefined), // a watcher that reports nothing: only the poll finds growth
        stopAtEof: () => (polls.push(clock.now()), false),
      });
      for await (const b of batches) b.starts.forEach((st, k) => got.push(b.buf.toString('utf8', st, b.stops[k])));
    })();
    const nextPoll = async (): Promise<void> => {
      const before = polls.length;
      clock.advance(clock.nextDue()! - clock.now());
      await until(() => polls.length > before, 10_000);
    };
    await until(() => polls.length === 1, 10_000);
    for (let k = 0; k < 6; k++) await nextPoll();
    expect(polls).toEqual([0, 100, 300, 700, 1500, 2500, 3500]);
    appendFileSync(file, 'b\n');
    await nextPoll(); // at 4500 the file grew: read, and the poll is back at 100 ms
    await nextPoll();
    expect([got, polls.slice(7)]).toEqual([['a', 'b'], [4500, 4600]]);
    ac.abort();
    await reader;
  });
});
