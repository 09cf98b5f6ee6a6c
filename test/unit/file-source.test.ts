import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLines } from '../../src/pipeline/file-source.js';
import { systemClock } from '../../src/platform/clock.js';
import { prng } from '../helpers/child.js';
import { tmpDir } from '../helpers/tmp.js';

async function readAll(file: string, from: number, batchSize: number): Promise<Array<{ line: string; offset: number }>> {
  const out: Array<{ line: string; offset: number }> = [];
  for await (const b of readLines({ path: file, from, batchSize, follow: false, clock: systemClock })) {
    expect(b.lines.length).toBeLessThanOrEqual(batchSize);
    b.lines.forEach((line, i) => out.push({ line, offset: b.offsets[i]! }));
    const last = b.lines.length - 1;
    if (last >= 0) expect(b.end).toBeGreaterThan(b.offsets[last]!);
  }
  return out;
}

describe('file source reader', () => {
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

  it('resumes at a byte offset and counts a last line without newline (not in follow mode)', async () => {
    const file = path.join(tmpDir(), 'in.log');
    writeFileSync(file, 'one\ntwo\nthree');
    expect(await readAll(file, 4, 10)).toEqual([
      { line: 'two', offset: 4 },
      { line: 'three', offset: 8 },
    ]);
  });
});
