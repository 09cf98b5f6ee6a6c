import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

describe('wproj with globbed sources and replay progress', () => {
  it('rescue stat counts only what is left after the recover.lock checkpoint', () => {
    const d = makeWorkRoot(tmpDir());
    const rescue = path.join(d, 'data/rescue');
    const file = writeRescueFile(rescue, 'a', 'main', T0, 0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    writeRescueFile(rescue, 'a', 'main', T0 + 1000, 0, [11, 12]);
    const text = readFileSync(file, 'utf8');
    const offset = text.split('\n').slice(0, 4).join('\n').length + 1; // 4 lines replayed
    const job = path.relative(rescue, file);
    writeFileSync(path.join(rescue, 'recover.lock'), JSON.stringify({ version: 1, files: { [job]: { offset, lines: 4 } } }));
    const j = JSON.parse(cli('wproj', ['rescue', 'stat', '--json', '--detail', '-w', d]).stdout) as {
      totalLines: number; totalBytes: number; files: Array<{ lines: number; bytes: number; replayedBytes: number }>;
    };
    expect(j.totalLines).toBe(6 + 2);
    expect(j.files[0]).toMatchObject({ lines: 6, bytes: text.length - offset, replayedBytes: offset });
  });

  it('stat src-file sums every file a glob matches, minus exclude', () => {
    const d = makeWorkRoot(tmpDir());
    writeFileSync(path.join(d, 'conf/wpsrc.yaml'), 'sources:\n  - key: g\n    params: { path: "./data/in_dat/*.log", exclude: ["skip.log"] }\n  - key: in\n    type: stdin\n');
    writeFileSync(path.join(d, 'data/in_dat/a.log'), makeInput(30));
    writeFileSync(path.join(d, 'data/in_dat/b.log'), makeInput(12));
    writeFileSync(path.join(d, 'data/in_dat/skip.log'), makeInput(5));
    const r = cli('wproj', ['stat', 'src-file', '--json', '-w', d]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { total: number }).total).toBe(42);
  });
});
