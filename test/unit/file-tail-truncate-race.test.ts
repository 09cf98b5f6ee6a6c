import { appendFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { FileSource } from '../../src/pipeline/file-source.js';
import { SourceCheckpoint } from '../../src/pipeline/source-checkpoint.js';
import { systemClock } from '../../src/platform/clock.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/** Runs once, before the tail's next look at the file's first bytes: a writer's step in between. */
const beforeHeadLook: { hook?: () => void } = {};

vi.mock('../../src/pipeline/fingerprint.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/pipeline/fingerprint.js')>();
  return {
    ...real,
    headUnchanged: (...args: Parameters<typeof real.headUnchanged>) => {
      const h = beforeHeadLook.hook;
      beforeHeadLook.hook = undefined;
      h?.();
      return real.headUnchanged(...args);
    },
  };
});

const lines = (tag: string, n: number): string => Array.from({ length: n }, (_, i) => `${tag}-${i}\n`).join('');

describe('a copytruncate racing the tail at the end of the file', () => {
  it('truncated between the size check and the content check: logged as truncated, read again from 0, nothing lost', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines('x', 800));
    const msgs: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void msgs.push((JSON.parse(s) as { msg: string }).msg) });
    const src = new FileSource({
      key: 'src', path: file, from: 'checkpoint', batchSize: 100, follow: true, rotateWaitMs: 300, rescanMs: 100, pollMs: 20,
      checkpointFile: SourceCheckpoint.pathFor(path.join(dir, '.run'), 'src'), clock: systemClock, log,
    });
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const b of src.batches(ac.signal)) {
        got.push(...b.lines);
        b.commit();
      }
      await src.close();
    })();
    await until(() => got.length === 800, 20_000);
    // at its next EOF look the size still matches; the mtime moved, so it looks at the content, and
    // the writer truncates right then
    beforeHeadLook.hook = () => truncateSync(file, 0);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await until(() => msgs.some((m) => m.endsWith('reading it from the start')), 20_000);
    expect(beforeHeadLook.hook).toBeUndefined();
    expect(msgs.filter((m) => m.endsWith('reading it from the start'))).toEqual(['input file truncated: reading it from the start']);
    appendFileSync(file, lines('y', 300));
    await until(() => got.length === 1100, 20_000);
    ac.abort();
    await done;
    expect(got).toEqual((lines('x', 800) + lines('y', 300)).trimEnd().split('\n'));
  });
});
