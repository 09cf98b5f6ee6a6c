import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, fileLines, outputNs } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

/** Edge cases of the file source as a log shipper meets them, each against a real `wparse daemon`. */
const kv = (from: number, to: number): number[] => range(from, to).filter((i) => i % 11 !== 10);
const sources = (root: string, yaml: string): void => writeFileSync(path.join(root, 'conf/wpsrc.yaml'), yaml);

const logOf = (root: string): string => {
  const f = path.join(root, 'data/logs/wparse.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

describe('file source edges', () => {
  it('a daemon following 2000 files reads every line once and goes on following them (each idle tail used to read 1 MiB per poll, and the reads starved the files that grew)', async () => {
    const FILES = 2000;
    const root = makeWorkRoot(tmpDir());
    sources(root, 'sources:\n  - key: src\n    params: { path: "./data/in_dat/f-*.log" }\n');
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(root, `data/in_dat/f-${i}.log`), makeInput(2, 2 * i));
    const out = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => fileLines(out).length >= kv(0, 2 * FILES).length, 120_000);
    appendFileSync(path.join(root, 'data/in_dat/f-1234.log'), makeInput(3, 2 * FILES)); // still following
    await until(() => fileLines(out).length >= kv(0, 2 * FILES + 3).length, 60_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(kv(0, 2 * FILES + 3), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  }, 240_000);

  it('stdin: a 128 MB line, piped in 64 KB writes, is one record, and the lines around it too (a last line without newline)', async () => {
    const root = makeWorkRoot(tmpDir());
    sources(root, 'sources:\n  - key: in\n    type: stdin\n');
    const child = spawn(process.execPath, [bin('wparse'), 'batch', '-w', root], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const write = (b: Buffer | string): Promise<void> => new Promise((resolve) => (child.stdin.write(b) ? resolve() : child.stdin.once('drain', resolve)));
    await write('id=1 level=info msg=before\nid=7 level=info msg=');
    const piece = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 2048; i++) await write(piece); // joined at every chunk, this line took minutes
    await write('\nid=2 level=info msg=after\nid=3 level=info msg=last');
    child.stdin.end();
    expect(await exit, stderr).toBe(0);
    const got = fileLines(path.join(root, 'data/out_dat/app.json')).map((l) => JSON.parse(l) as { n: number; msg: string });
    expect(got.map((r) => [r.n, r.msg.length])).toEqual([
      [1, 6],
      [7, 128 * 1024 * 1024],
      [2, 5],
      [3, 4],
    ]);
  }); // the default 60 s: about 2 s now, 110 s when a long line was joined again at every chunk

  it('a matching file without read permission is warned about once, not skipped in silence, and read once it may be', async () => {
    const root = makeWorkRoot(tmpDir());
    sources(root, 'sources:\n  - key: src\n    params: { path: "./data/in_dat/f-*.log" }\n');
    const locked = path.join(root, 'data/in_dat/f-b.log');
    writeFileSync(path.join(root, 'data/in_dat/f-a.log'), makeInput(100));
    writeFileSync(locked, makeInput(100, 100));
    chmodSync(locked, 0o000);
    // root reads whatever the mode says: as root, wparse runs without the capabilities that let it
    // (setpriv, util-linux); not as another user, whose way to the node binary may be closed (a
    // private temp directory, ~/.nvm)
    const prefix = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'] : [];
    const out = path.join(root, 'data/out_dat/app.json');
    const [cmd, ...pre] = [...prefix, process.execPath];
    const batch = spawnSync(cmd, [...pre, bin('wparse'), 'batch', '-w', root], { encoding: 'utf8' });
    expect(batch.error).toBeUndefined();
    expect(batch.status, batch.stderr).toBe(0);
    expect(compareNs(kv(0, 100), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
    expect(logOf(root)).toMatch(new RegExp(`"file":"${locked}".*input file cannot be opened: not read`));
    const d = startNode(bin('wparse'), ['daemon', '-w', root], { prefix });
    await until(() => logOf(root).includes('input file cannot be opened: tried again at every rescan'), 30_000);
    chmodSync(locked, 0o644);
    await until(() => fileLines(out).length >= kv(0, 200).length, 30_000);
    // every rescan (1 s) of the daemon's run tried the file again: the warning was said once
    expect(logOf(root).split('\n').filter((l) => l.includes('tried again at every rescan'))).toHaveLength(1);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(kv(0, 200), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  });
});
