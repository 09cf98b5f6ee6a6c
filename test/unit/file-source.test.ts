import { appendFileSync, mkdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FileSource, type FileSourceOptions } from '../../src/pipeline/file-source.js';
import { decodeCheckpoints, encodeCheckpoint, SourceCheckpoint } from '../../src/pipeline/source-checkpoint.js';
import { systemClock } from '../../src/platform/clock.js';
import { silentLogger, type Logger } from '../../src/platform/logger.js';
import { ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/** `n` lines `<tag>-<i>` for i in [from, from + n). */
const lines = (tag: string, from: number, n: number): string => Array.from({ length: n }, (_, i) => `${tag}-${from + i}\n`).join('');
const names = (tag: string, from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${from + i}`);

interface Run {
  got: Array<{ line: string; id: string }>;
  /** Batches the consumer took from the source (before waiting on `gate`). */
  pulled: number;
  stop: () => Promise<void>;
  done: Promise<void>;
}

/** Runs a FileSource, committing every batch as it comes (as a pipeline with healthy sinks does). */
function run(dir: string, { commit = true, gate, ...opts }: Partial<FileSourceOptions> & { path: string; commit?: boolean; gate?: Promise<void> }): Run {
  const src = new FileSource({
    key: 'src',
    from: 'checkpoint',
    batchSize: 100,
    follow: true,
    rotateWaitMs: 300,
    rescanMs: 100,
    pollMs: 20,
    checkpointFile: SourceCheckpoint.pathFor(path.join(dir, '.run'), 'src'),
    clock: systemClock,
    log: silentLogger(),
    ...opts,
  });
  const ac = new AbortController();
  const got: Run['got'] = [];
  const seen = { pulled: 0 };
  const done = (async () => {
    for await (const b of src.batches(ac.signal)) {
      seen.pulled++;
      await gate; // a stalled pipeline: the reader stops at the channel, ahead of its last commit
      b.lines.forEach((l, i) => got.push({ line: l, id: `${b.idPrefix}${b.positions[i]!}` }));
      if (commit) b.commit();
    }
    if (commit) await src.close(); // else as after a kill -9: nothing more is written
  })();
  return {
    got,
    get pulled() {
      return seen.pulled;
    },
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** Every expected line exactly once, nothing else; ids unique. */
function expectExactly(r: Run, expected: string[]): void {
  expect([...r.got.map((g) => g.line)].sort()).toEqual([...expected].sort());
  expect(new Set(r.got.map((g) => g.id)).size).toBe(r.got.length);
}

describe('source checkpoint format', () => {
  it('decodes the golden file and encodes it back byte for byte; a v2 slot decodes with its tail unknown', () => {
    const text = readFileSync(path.join(ROOT, 'test/fixtures/source-checkpoint-v3.ckpt'), 'utf8');
    const entries = decodeCheckpoints(text);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ dev: 2049, ino: 1234567, gen: 0, offset: 52311, tail: '5e6f708192a3b4c5', mtime: 1764470000123456789n });
    expect(entries[1]).toMatchObject({ gen: 1, offset: 0, tail: '' });
    expect(entries.map(encodeCheckpoint).join('')).toBe(text);
    const v2 = decodeCheckpoints(readFileSync(path.join(ROOT, 'test/fixtures/source-checkpoint-v2.ckpt'), 'utf8'));
    expect(v2.map((e) => ({ ...e, tail: '' }))).toEqual(v2);
    expect(v2.map(({ tail: _t, ...e }) => e)).toEqual(entries.map(({ tail: _t, ...e }) => e));
    // a torn slot is skipped, a v1 checkpoint is still understood
    expect(decodeCheckpoints(`${text.slice(0, 100)}\n{"v":1,"ino":00000000000000000007,"offset":00000000000000000042}\n`)).toEqual([
      expect.objectContaining({ legacy: true, ino: 7, offset: 42 }),
    ]);
  });
});

describe('FileSource', () => {
  it('reads every file of a glob, minus exclude, and a file created after start', async () => {
    const dir = tmpDir();
    const inDir = path.join(dir, 'in');
    mkdirSync(path.join(inDir, 'sub'), { recursive: true });
    writeFileSync(path.join(inDir, 'a.log'), lines('a', 0, 500));
    writeFileSync(path.join(inDir, 'b.log'), lines('b', 0, 700));
    writeFileSync(path.join(inDir, 'c.log'), lines('c', 0, 300));
    writeFileSync(path.join(inDir, 'c.log.gz'), lines('gz', 0, 10));
    writeFileSync(path.join(inDir, 'skip.log'), lines('skip', 0, 10));
    writeFileSync(path.join(inDir, 'sub', 'deep.log'), lines('deep', 0, 10));
    const r = run(dir, { path: path.join(inDir, '*.log*'), exclude: ['*.gz', path.join(inDir, 'skip.*')] });
    await until(() => r.got.length >= 1500, 20_000);
    writeFileSync(path.join(inDir, 'd.log'), lines('d', 0, 200));
    appendFileSync(path.join(inDir, 'a.log'), lines('a', 500, 50));
    await until(() => r.got.length >= 1750, 20_000);
    await r.stop();
    expectExactly(r, [...names('a', 0, 550), ...names('b', 0, 700), ...names('c', 0, 300), ...names('d', 0, 200)]);
  });

  it('follows a rename rotation: the old file is read to its end (lines appended after the rename too), the new one from 0', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines('x', 0, 1000));
    const r = run(dir, { path: file, rotateWaitMs: 1500 });
    await until(() => r.got.length >= 1000, 20_000);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, lines('x', 1000, 100)); // the writer still holds the old file
    writeFileSync(file, lines('y', 0, 400));
    appendFileSync(`${file}.1`, lines('x', 1100, 100));
    await until(() => r.got.length >= 1600, 20_000);
    appendFileSync(file, lines('y', 400, 100));
    await until(() => r.got.length >= 1700, 20_000);
    await r.stop();
    expectExactly(r, [...names('x', 0, 1200), ...names('y', 0, 500)]);
  });

  it('copytruncate: a truncated file restarts at 0, with new ids', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines('x', 0, 800));
    const msgs: string[] = [];
    const r = run(dir, { path: file, log: pino({ level: 'info' }, { write: (s: string) => void msgs.push((JSON.parse(s) as { msg: string }).msg) }) });
    await until(() => r.got.length >= 800, 20_000);
    truncateSync(file, 0);
    await until(() => msgs.includes('input file truncated: reading it from the start'), 20_000); // noticed at the next poll
    appendFileSync(file, lines('y', 0, 300));
    await until(() => r.got.length >= 1100, 20_000);
    await r.stop();
    expectExactly(r, [...names('x', 0, 800), ...names('y', 0, 300)]);
  });

  it('copytruncate while the reader lags, the file written again past its read position: the new content is read once, from 0', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    const pad = ` ${'p'.repeat(100)}`;
    const padded = (tag: string, from: number, n: number): string => lines(tag, from, n).replaceAll('\n', `${pad}\n`);
    writeFileSync(file, padded('x', 0, 40_000)); // 4.5 MB: more than the reader holds in memory
    let resume!: () => void;
    const r = run(dir, { path: file, gate: new Promise((res) => (resume = res)) });
    await until(() => r.pulled === 1, 20_000);
    truncateSync(file, 0);
    writeFileSync(file, padded('y', 0, 60_000)); // the writer goes on, past where the reader stands
    resume();
    await until(() => r.got.some((g) => g.line.startsWith('y-59999 ')), 30_000);
    await r.stop();
    const got = r.got.map((g) => g.line);
    const ys = got.filter((l) => l.startsWith('y-'));
    expect(ys).toEqual(names('y', 0, 60_000).map((n) => `${n}${pad}`)); // once each, in order (was: 40k read twice)
    const xs = got.filter((l) => !l.startsWith('y-')); // the old content up to where it was cut
    expect(xs.slice(0, -1)).toEqual(names('x', 0, xs.length - 1).map((n) => `${n}${pad}`));
    expect(`x-${xs.length - 1}${pad}`.startsWith(xs.at(-1)!)).toBe(true); // the line cut by the truncation, as far as it was read
    expect(new Set(r.got.map((g) => g.id)).size).toBe(r.got.length);
  });

  it('a file rewritten in place with the same first line (a header), longer than the read position: read again from 0', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.csv');
    writeFileSync(file, `when,what\n${lines('x', 0, 500)}`);
    const r = run(dir, { path: file });
    await until(() => r.got.length >= 501, 20_000);
    writeFileSync(file, `when,what\n${lines('y', 0, 2000)}`); // `cat new > app.csv`: same inode, same header
    await until(() => r.got.some((g) => g.line === 'y-1999'), 20_000);
    await r.stop();
    expectExactly(r, ['when,what', ...names('x', 0, 500), 'when,what', ...names('y', 0, 2000)]);
  });

  it('a file rewritten in place while nothing read it, same header, longer than its checkpoint: read again from 0; one that only grew resumes', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.csv');
    const other = path.join(dir, 'grows.csv');
    writeFileSync(file, `when,what\n${lines('x', 0, 500)}`);
    writeFileSync(other, `when,what\n${lines('g', 0, 500)}`);
    const glob = path.join(dir, '*.csv');
    const first = run(dir, { path: glob, follow: false });
    await first.done;
    writeFileSync(file, `when,what\n${lines('y', 0, 2000)}`); // same inode, same header, stopped meanwhile
    appendFileSync(other, lines('g', 500, 100));
    const second = run(dir, { path: glob, follow: false });
    await second.done;
    expectExactly(second, ['when,what', ...names('y', 0, 2000), ...names('g', 500, 100)]);
    // the new generation's slot and the grown file's carry the hash of their last bytes
    const slots = decodeCheckpoints(readFileSync(SourceCheckpoint.pathFor(path.join(dir, '.run'), 'src'), 'utf8'));
    expect(slots.map((e) => [e.gen, e.tail.length])).toEqual(expect.arrayContaining([[1, 16], [0, 16]]));
  });

  it('per-file checkpoints: a restart reads only what is new; a file rewritten in place (same size) is read again', async () => {
    const dir = tmpDir();
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    writeFileSync(a, lines('a', 0, 300));
    writeFileSync(b, lines('b', 0, 300));
    const glob = path.join(dir, '*.log');
    const first = run(dir, { path: glob, follow: false, from: 'start' });
    await first.done;
    expectExactly(first, [...names('a', 0, 300), ...names('b', 0, 300)]);
    appendFileSync(a, lines('a', 300, 20));
    await new Promise((res) => setTimeout(res, 20)); // a different mtime, whatever the fs granularity
    writeFileSync(b, lines('b', 0, 300)); // same bytes, same inode, same size: a new run of a generator
    const second = run(dir, { path: glob, follow: false, from: 'start' });
    await second.done;
    expectExactly(second, [...names('a', 300, 20), ...names('b', 0, 300)]);
    const idsB1 = new Set(first.got.filter((g) => g.line.startsWith('b')).map((g) => g.id));
    expect(second.got.filter((g) => g.line.startsWith('b')).some((g) => idsB1.has(g.id))).toBe(false);
    const third = run(dir, { path: glob, follow: false, from: 'start' });
    await third.done;
    expect(third.got).toEqual([]);
  });

  it('a renamed file keeps its checkpoint; from: end applies only to files without one', async () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'a.log'), lines('a', 0, 100));
    writeFileSync(path.join(dir, 'old.log'), lines('old', 0, 100));
    const glob = path.join(dir, '*.log');
    const first = run(dir, { path: path.join(dir, 'a.log'), follow: false });
    await first.done;
    renameSync(path.join(dir, 'a.log'), path.join(dir, 'a2.log'));
    appendFileSync(path.join(dir, 'a2.log'), lines('a', 100, 10));
    const second = run(dir, { path: glob, follow: false, from: 'end' });
    await second.done;
    expectExactly(second, names('a', 100, 10)); // old.log has no checkpoint: from end
  });

  it('a v1 checkpoint (one inode, one offset) is taken over: the file resumes at its offset', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.log');
    writeFileSync(file, lines('a', 0, 100));
    const offset = lines('a', 0, 60).length;
    const ckpt = SourceCheckpoint.pathFor(path.join(dir, '.run'), 'src');
    mkdirSync(path.dirname(ckpt), { recursive: true });
    writeFileSync(ckpt, `{"v":1,"ino":${String(statSync(file).ino).padStart(20, '0')},"offset":${String(offset).padStart(20, '0')}}\n`);
    const r = run(dir, { path: file, follow: false });
    await r.done;
    expectExactly(r, names('a', 60, 40));
    expect(decodeCheckpoints(readFileSync(ckpt, 'utf8'))).toEqual([expect.objectContaining({ offset: lines('a', 0, 100).length, gen: 0 })]);
  });

  it('from: end skips what a file held at start, never a file that appeared while running, even if nothing of it was committed', async () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'a.log'), lines('old', 0, 100));
    const glob = path.join(dir, '*.log');
    const opened: string[] = [];
    const log = { ...silentLogger(), info: (o: { file?: string }, m: string) => m === 'input file opened' && opened.push(path.basename(o.file ?? '')) } as unknown as Logger;
    const first = run(dir, { path: glob, from: 'end', commit: false, log }); // as if killed before any commit
    await until(() => opened.includes('a.log'), 20_000); // the start scan has seen what a.log held
    appendFileSync(path.join(dir, 'a.log'), lines('a', 0, 10));
    writeFileSync(path.join(dir, 'c.log'), lines('c', 0, 30));
    await until(() => first.got.length >= 40, 20_000);
    await first.stop();
    expectExactly(first, [...names('a', 0, 10), ...names('c', 0, 30)]);
    writeFileSync(path.join(dir, 'b.log'), lines('b', 0, 20)); // appears while nothing runs: no checkpoint
    const second = run(dir, { path: glob, from: 'end', follow: false });
    await second.done;
    expectExactly(second, [...names('a', 0, 10), ...names('c', 0, 30)]);
  });

  it('record ids are the same when lines are read again after a crash (nothing committed)', async () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'a.log'), lines('a', 0, 250));
    writeFileSync(path.join(dir, 'b.log'), lines('a', 0, 250)); // same bytes, another file: other ids
    const glob = path.join(dir, '*.log');
    const crashed = run(dir, { path: glob, commit: false });
    await until(() => crashed.got.length >= 500, 20_000);
    await crashed.stop();
    const again = run(dir, { path: glob, follow: false });
    await again.done;
    const ids = (r: Run): string[] => r.got.map((g) => `${g.line}@${g.id}`).sort();
    expect(ids(again)).toEqual(ids(crashed));
    expect(new Set(again.got.map((g) => g.id)).size).toBe(500);
  });

  it('batch mode reads a glob of many files, a few at a time', async () => {
    const dir = tmpDir();
    const expected: string[] = [];
    for (let f = 0; f < 40; f++) {
      writeFileSync(path.join(dir, `f${f}.log`), lines(`f${f}`, 0, 50));
      expected.push(...names(`f${f}`, 0, 50));
    }
    const r = run(dir, { path: path.join(dir, '*.log'), follow: false });
    await r.done;
    expectExactly(r, expected);
  });

  it('lines decode the same whether their batch is all ASCII or not (multi-byte, invalid UTF-8, CRLF)', async () => {
    const dir = tmpDir();
    const parts: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      // batches of 100: the 4th and the 8th hold non-ASCII lines, the rest are plain ASCII
      const odd = i === 350 ? Buffer.from([0x61, 0xff, 0xfe, 0x62]) : i === 770 ? Buffer.from(`é日本🚀-${i}`) : Buffer.from(`line-${i}`);
      parts.push(odd, Buffer.from(i % 3 === 0 ? '\r\n' : '\n'));
      expected.push(odd.toString('utf8'));
    }
    writeFileSync(path.join(dir, 'a.log'), Buffer.concat(parts));
    const r = run(dir, { path: path.join(dir, 'a.log'), follow: false });
    await r.done;
    expect(r.got.map((g) => g.line)).toEqual(expected);
  });

  it('batch mode with nothing matching ends at once', async () => {
    const dir = tmpDir();
    const r = run(dir, { path: path.join(dir, 'none', '*.log'), follow: false });
    await r.done;
    expect(r.got).toEqual([]);
  });
});
