import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SinkEntry } from '../../src/record.js';
import { createFormatter, FORMATS } from '../../src/sinks/format.js';

const entries: SinkEntry[] = [
  { id: 's:0', kind: 'record', record: { ip: '1.2.3.4', status: 200, ok: true, none: null } },
  { id: 's:1', kind: 'record', record: { msg: 'hello, world', quote: 'say "hi"', nl: 'a\nb', uni: 'größe 日本 🚀', empty: '' } },
  { id: 's:2', kind: 'record', record: { f: 1.5, neg: -3, path: '/a b/c' } },
  { id: 's:3', kind: 'raw', raw: 'unparsed line, with "quotes"' },
];

describe('output formats are pinned by golden files', () => {
  for (const fmt of FORMATS) {
    it(`${fmt}: spaces, commas, quotes, newlines and unicode`, () => {
      const f = createFormatter(fmt);
      const got = entries.map((e) => `${f(e)}\n`).join('');
      const golden = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'formats', `${fmt}.txt`), 'utf8');
      expect(got).toBe(golden);
      expect(got.split('\n')).toHaveLength(entries.length + 1); // never a newline inside a line
    });
  }
});
