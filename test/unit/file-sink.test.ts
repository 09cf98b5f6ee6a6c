import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSink } from '../../src/sinks/file/file-sink.js';
import { tmpDir } from '../helpers/tmp.js';

describe('file sink', () => {
  it('cuts a torn last line left by a kill -9 before appending (its batch comes again whole)', async () => {
    const file = path.join(tmpDir(), 'out.json');
    writeFileSync(file, '{"n":1}\n{"n":2}\n{"n":3,"msg":"cut sh');
    const sink = new FileSink({ path: file, fmt: 'json', sync: false });
    await sink.open();
    expect(await sink.write([{ id: 's:3', kind: 'record', record: { n: 3 } }])).toEqual({ status: 'ok' });
    await sink.close();
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it('a file holding only a torn line (longer than one read) is emptied; a whole file is kept as is', async () => {
    const dir = tmpDir();
    const torn = path.join(dir, 'torn.json');
    writeFileSync(torn, 'x'.repeat(200_000));
    const whole = path.join(dir, 'whole.json');
    writeFileSync(whole, '{"n":1}\n');
    for (const f of [torn, whole]) {
      const sink = new FileSink({ path: f, fmt: 'json', sync: false });
      await sink.open();
      await sink.close();
    }
    expect(readFileSync(torn, 'utf8')).toBe('');
    expect(readFileSync(whole, 'utf8')).toBe('{"n":1}\n');
  });
});
