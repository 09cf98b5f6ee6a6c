import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { prng, startNode } from '../helpers/child.js';
import { compareNs, fileLines, outputNs } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

const BATCH = 512;
const kv = (from: number, to: number): number[] => range(from, to).filter((i) => i % 11 !== 10);
const logOf = (root: string): string => {
  const f = path.join(root, 'data/logs/wparse.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};
/**
 * The `n` of every record in a file sink output, where a kill -9 may have torn the last write:
 * the file sink does not cut a torn tail on reopen, so the next record follows half a line. Its
 * record is repeated whole (its batch was not committed): count every `"n":` found.
 */
const tornNs = (file: string): number[] => fileLines(file).flatMap((l) => [...l.matchAll(/\{"n":(\d+),/g)].map((m) => Number(m[1])));
const sources = (root: string, yaml: string): void => writeFileSync(path.join(root, 'conf/wpsrc.yaml'), yaml);

describe('sources', () => {
  it('wpgen sample -o - | wparse batch reads standard input to its end', () => {
    const root = makeWorkRoot(tmpDir());
    writeFileSync(path.join(root, 'models/sample.dat'), 'id=1 level=info msg=a\nid=2 level=warn msg=b\ngarbage\n');
    sources(root, 'sources:\n  - key: in\n    type: stdin\n');
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bin('wpgen')}" sample -n 3000 -o - -w . | "${process.execPath}" "${bin('wparse')}" batch -w .`], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('wpgen: wrote 3000 lines');
    expect(fileLines(path.join(root, 'data/out_dat/app.json'))).toHaveLength(2000);
    expect(fileLines(path.join(root, 'data/out_dat/miss.json'))).toHaveLength(1000);
  });

  it('wpgen sample && wparse batch, twice: the second run reads the regenerated file again', () => {
    const root = makeWorkRoot(tmpDir());
    writeFileSync(path.join(root, 'models/sample.dat'), 'id=1 level=info msg=a\nid=2 level=warn msg=b\n');
    sources(root, 'sources:\n  - key: gen\n    params: { path: ./data/in_dat/gen.dat, from: start }\n');
    for (let i = 1; i <= 2; i++) {
      expect(cli('wpgen', ['sample', '-n', '1000', '-w', root]).code).toBe(0);
      const r = cli('wparse', ['batch', '-w', root]);
      expect(r.code, r.stderr).toBe(0);
      expect(fileLines(path.join(root, 'data/out_dat/app.json'))).toHaveLength(1000 * i);
    }
    expect(logOf(root)).toContain('rewritten in place since the checkpoint');
    expect(cli('wparse', ['batch', '-w', root]).code).toBe(0); // nothing new: nothing read
    expect(fileLines(path.join(root, 'data/out_dat/app.json'))).toHaveLength(2000);
  });

  it('batch -n stops inside a batch; a file rewritten in place before the next run (same header, longer) is read again from 0', () => {
    const root = makeWorkRoot(tmpDir());
    const input = path.join(root, 'data/in_dat/gen.dat');
    const gen = (msg: string, n: number): string => ['id=0 level=info msg=header', ...range(1, n).map((i) => `id=${i} level=info msg=${msg}`)].join('\n') + '\n';
    writeFileSync(input, gen('a', 1000));
    sources(root, 'sources:\n  - key: gen\n    params: { path: ./data/in_dat/gen.dat, from: start }\n');
    const cut = BATCH + 137; // inside the second batch: a partial commit
    expect(cli('wparse', ['batch', '-n', String(cut), '-w', root]).code).toBe(0);
    writeFileSync(input, gen('b', 3000)); // `cat new > gen.dat`: same inode, same first line
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(logOf(root)).toContain('rewritten in place since the checkpoint');
    const out = fileLines(path.join(root, 'data/out_dat/app.json'));
    expect(out.filter((l) => l.includes('"msg":"a"'))).toHaveLength(cut - 1);
    expect(out.filter((l) => l.includes('"msg":"b"'))).toHaveLength(2999);
    expect(out.filter((l) => l.includes('"msg":"header"'))).toHaveLength(2);
    expect(fileLines(path.join(root, 'data/out_dat/miss.json'))).toHaveLength(0);
  });

  it('batch: a glob matching nothing is a warning, not a failure', () => {
    const root = makeWorkRoot(tmpDir());
    sources(root, 'sources:\n  - key: src\n    params: { path: "./data/in_dat/none-*.log" }\n');
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(logOf(root)).toContain('no input file matches: nothing to read');
    // the terminal is warned too, not only the log (SPEC section 2: "skipped with a warning")
    expect(r.stderr).toContain(`wparse: warning: source src: no input file matches ${path.join(root, 'data/in_dat/none-*.log')}: nothing to read`);
  });

  it('daemon: a missing file is waited for (one log line), then read, and files created later too', async () => {
    const root = makeWorkRoot(tmpDir());
    sources(root, 'sources:\n  - key: src\n    params: { path: "./data/in_dat/app-*.log" }\n');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => logOf(root).includes('no input file matches yet'), 20_000);
    writeFileSync(path.join(root, 'data/in_dat/app-1.log'), makeInput(3000));
    writeFileSync(path.join(root, 'data/in_dat/app-2.log'), makeInput(2000, 3000));
    const out = path.join(root, 'data/out_dat/app.json');
    await until(() => fileLines(out).length >= kv(0, 5000).length, 30_000);
    writeFileSync(path.join(root, 'data/in_dat/app-3.log'), makeInput(1000, 5000));
    await until(() => fileLines(out).length >= kv(0, 6000).length, 30_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(kv(0, 6000), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
    expect(logOf(root).split('\n').filter((l) => l.includes('no input file matches yet'))).toHaveLength(1);
  });

  it('daemon: copytruncate restarts the file at 0 with a log line; nothing read twice, nothing skipped', async () => {
    const root = makeWorkRoot(tmpDir(), { input: makeInput(3000) });
    const file = path.join(root, 'data/in_dat/input.log');
    const out = path.join(root, 'data/out_dat/app.json');
    const d = startNode(bin('wparse'), ['daemon', '-w', root]);
    await until(() => fileLines(out).length >= kv(0, 3000).length, 30_000);
    truncateSync(file, 0); // what logrotate's copytruncate does after copying
    await until(() => logOf(root).includes('input file truncated: reading it from the start'), 30_000);
    appendFileSync(file, makeInput(2000, 3000));
    await until(() => fileLines(out).length >= kv(0, 5000).length, 30_000);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(compareNs(kv(0, 5000), outputNs(out))).toEqual({ missing: [], duplicates: 0 });
  });

  for (const seed of [3, 4]) {
    it(`kill -9 of wparse daemon during a rename rotation (seed ${seed}), then restart: nothing lost, at most one batch repeated`, async () => {
      const N = 60_000;
      const root = makeWorkRoot(tmpDir(), { input: makeInput(N), engine: 'rescue: { durability: fsync }\n' });
      sources(root, 'sources:\n  - key: src\n    params: { path: ./data/in_dat/input.log, rotate_wait_ms: 60000 }\n');
      const file = path.join(root, 'data/in_dat/input.log');
      const out = path.join(root, 'data/out_dat/app.json');
      const d = startNode(bin('wparse'), ['daemon', '-w', root]);
      await until(() => fileLines(out).length >= 5000, 30_000);
      renameSync(file, `${file}.1`);
      writeFileSync(file, makeInput(20_000, N));
      appendFileSync(`${file}.1`, makeInput(5000, N + 20_000)); // the writer's last lines to the old file
      await new Promise((r) => setTimeout(r, Math.floor(prng(seed)() * 300))); // the crash moment is what is random here
      d.child.kill('SIGKILL');
      expect((await d.exit).signal).toBe('SIGKILL');
      // the writer goes on while wparse is down: the restart must find the rotated file by its inode
      appendFileSync(`${file}.1`, makeInput(1000, N + 25_000));
      appendFileSync(file, makeInput(1000, N + 26_000));
      const again = startNode(bin('wparse'), ['daemon', '-w', root]);
      const expected = kv(0, N + 27_000);
      await until(() => compareNs(expected, tornNs(out)).missing.length === 0, 60_000);
      again.child.kill('SIGTERM');
      expect((await again.exit).code).toBe(0);
      const { missing, duplicates } = compareNs(expected, tornNs(out));
      expect(missing).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(BATCH);
      expect(logOf(root)).toContain('rotated input file found');
    });
  }
});
