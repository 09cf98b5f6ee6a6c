import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import { parseRescueName } from '../../src/rescue/file-name.js';
import { decodeRescueLine } from '../../src/rescue/line-format.js';
import { OK, unavailable, type SinkBackend, type WriteOutcome } from '../../src/sinks/contract.js';
import type { SinkEntry } from '../../src/record.js';
import { FailoverSink, type FailoverOptions } from '../../src/sinks/runtime.js';
import { TestRescueSink } from '../../src/sinks/test-rescue/test-rescue-sink.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const entry = (i: number): SinkEntry => ({ id: `src:${i}`, kind: 'record', record: { n: i } });
const range = (from: number, to: number): SinkEntry[] => Array.from({ length: to - from }, (_, k) => entry(from + k));

function options(dir: string, clock: ManualClock, extra: Partial<FailoverOptions> = {}): FailoverOptions {
  return {
    group: 'g', sink: 'my-sink', rescueDir: path.join(dir, 'rescue'), durability: 'none', flushMs: 10,
    reconnect: { initial_ms: 100, max_ms: 100, jitter: 0 }, clock, random: () => 0.5, ...extra,
  };
}

function rescueFiles(dir: string): string[] {
  const g = path.join(dir, 'rescue', 'g');
  try {
    return readdirSync(g).filter((n) => n.endsWith('.dat') || n.endsWith('.dat.lock')).map((n) => path.join(g, n));
  } catch {
    return [];
  }
}

const idsIn = (file: string): string[] =>
  readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const d = decodeRescueLine(l);
    if (!d.ok) throw new Error(d.reason);
    return d.entry.id;
  });

describe('sink failover to rescue files', () => {
  it('healthy → unavailable → reconnect → healthy gives exactly one rescue file with exactly the outage records', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 14, 0, 0));
    const out = path.join(dir, 'out.json');
    const backend = new TestRescueSink({ path: out, fmt: 'json', sync: false, stages: [{ healthy: true, ms: 1000 }, { healthy: false, ms: 1000 }, { healthy: true }], repeat: false }, clock);
    const sink = new FailoverSink(backend, options(dir, clock));
    await sink.open();
    // one batch of 10 records every 250 ms for 3 s; probes every 100 ms
    for (let b = 0; b < 12; b++) {
      await sink.write(range(b * 10, b * 10 + 10));
      clock.advance(250);
      await sink.settled(); // a probe the advance fired has swapped back (or rescheduled)
    }
    await sink.close();
    const files = rescueFiles(dir);
    expect(files).toHaveLength(1);
    expect(files[0]!.endsWith('.dat')).toBe(true);
    expect(parseRescueName(path.basename(files[0]!))).toMatchObject({ sink: 'my-sink', seq: 0, locked: false });
    // batches at t = 1000, 1250, 1500, 1750 ms fall in the outage; the probe at 2000 ms finds it healthy
    expect(idsIn(files[0]!)).toEqual(range(40, 80).map((e) => e.id));
    const delivered = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
    expect(delivered).toEqual([...range(0, 40), ...range(80, 120)].map((e) => e.record!.n));
  });

  it('a backend down at open makes no rescue file until a record comes; then records go to rescue without a backend write', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 14, 0, 0));
    let writes = 0;
    const backend: SinkBackend = {
      type: 'down',
      open: () => Promise.reject(new Error('refused')),
      write: () => {
        writes++;
        return Promise.resolve(unavailable('refused'));
      },
      reconnect: () => Promise.resolve(false),
      close: () => Promise.resolve(),
    };
    const idle = new FailoverSink(backend, options(dir, clock));
    await idle.open();
    expect(idle.onRescue).toBe(true);
    await idle.write([]);
    await idle.close();
    expect(rescueFiles(dir)).toEqual([]); // a sink that got no record leaves no empty file
    const busy = new FailoverSink(backend, options(dir, clock));
    await busy.open();
    await busy.write(range(0, 5));
    await busy.close();
    expect(writes).toBe(0);
    expect(rescueFiles(dir).flatMap(idsIn)).toEqual(range(0, 5).map((e) => e.id));
  });

  it('a partial batch: only the unaccepted records reach rescue', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(0);
    const written: string[] = [];
    const backend: SinkBackend = {
      type: 'fake-partial',
      open: async () => {},
      write: async (es): Promise<WriteOutcome> => {
        written.push(...es.slice(0, 3).map((e) => e.id));
        return unavailable('connection reset after 3', 3);
      },
      reconnect: async () => false,
      close: async () => {},
    };
    const sink = new FailoverSink(backend, options(dir, clock));
    await sink.write(range(0, 8));
    await sink.close();
    expect(written).toEqual(range(0, 3).map((e) => e.id));
    expect(idsIn(rescueFiles(dir)[0]!)).toEqual(range(3, 8).map((e) => e.id));
  });

  it('rejected records come back with the write that produced them, never to rescue', async () => {
    const dir = tmpDir();
    const backend: SinkBackend = {
      type: 'fake-reject', open: async () => {}, reconnect: async () => true, close: async () => {},
      write: async () => ({ status: 'ok', rejected: [{ index: 1, reason: 'constraint violation' }] }),
    };
    const sink = new FailoverSink(backend, options(dir, new ManualClock()));
    const { rejected } = await sink.write(range(0, 3));
    await sink.close();
    expect(rejected.map((i) => `${i.entry.id}:${i.reason}`)).toEqual(['src:1:constraint violation']);
    expect(rescueFiles(dir)).toHaveLength(0);
  });

  it('disk full on the rescue directory: no crash, one clear error, no partial line, resumes when space returns', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(0);
    let full = true;
    let failed = 0;
    let cut = 0;
    const fs: FsPort = {
      ...realFs,
      writeSync(fh, buf) {
        if (full) {
          // write half, then fail like a real ENOSPC mid-write
          realFs.writeSync(fh, buf.subarray(0, Math.floor(buf.length / 2)));
          failed++;
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        realFs.writeSync(fh, buf);
      },
      async truncate(fh, len) {
        await realFs.truncate(fh, len);
        cut++;
      },
    };
    const errors: string[] = [];
    const log = { error: (o: { err?: string }, msg: string) => errors.push(`${msg}: ${o.err ?? ''}`), warn: () => {}, info: () => {} };
    const backend: SinkBackend = { type: 'down', open: async () => {}, write: async () => unavailable('down'), reconnect: async () => false, close: async () => {} };
    const sink = new FailoverSink(backend, options(dir, clock, { fs, log: log as never }));
    let done = false;
    const p = sink.write(range(0, 5)).then(() => (done = true));
    await until(() => errors.length > 0 && cut === 1);
    for (let attempt = 2; attempt <= 5; attempt++) {
      await until(() => sink.rescueFailures === attempt - 1); // the failed attempt is waiting for its retry timer
      clock.advance(1000); // retries keep failing while the disk is full
      await until(() => cut === attempt);
    }
    expect(failed).toBe(5);
    expect(done).toBe(false); // input paused (backpressure), not crashed
    expect(errors.filter((e) => e.includes('rescue write failed'))).toHaveLength(1);
    const lockFile = rescueFiles(dir)[0]!;
    expect(readFileSync(lockFile, 'utf8')).toBe(''); // the half-written line was cut back
    full = false;
    await until(() => {
      clock.advance(1000);
      return done;
    });
    await p;
    expect(done).toBe(true);
    await sink.close();
    expect(idsIn(rescueFiles(dir)[0]!)).toEqual(range(0, 5).map((e) => e.id));
  });

  it('a live writer marks ownership; a second outage later opens a new file (one file per episode)', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 14, 0, 0));
    let healthy = false;
    const backend: SinkBackend = {
      type: 'switch', open: async () => {}, close: async () => {},
      write: async () => (healthy ? OK : unavailable('down')),
      reconnect: async () => healthy,
    };
    const sink = new FailoverSink(backend, options(dir, clock));
    await sink.write(range(0, 2));
    expect(readdirSync(path.join(dir, 'rescue', 'g')).some((n) => n.endsWith('.dat.lock.owner'))).toBe(true);
    healthy = true;
    clock.advance(100);
    await sink.settled();
    await sink.write(range(2, 4));
    healthy = false;
    await sink.write(range(4, 6));
    await sink.close();
    const files = rescueFiles(dir).sort();
    expect(files.map((f) => path.basename(f))).toEqual(['my-sink-2026-11-22_14:00:00-0.dat', 'my-sink-2026-11-22_14:00:00-1.dat']);
    expect(readdirSync(path.join(dir, 'rescue', 'g')).filter((n) => n.endsWith('.owner'))).toEqual([]);
  });
});
