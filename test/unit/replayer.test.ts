import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { ManualClock } from '../../src/platform/clock.js';
import { silentLogger } from '../../src/platform/logger.js';
import { isPermanent } from '../../src/errors.js';
import type { Job } from '../../src/queue/job-state.js';
import { RecoverCheckpoint } from '../../src/recovery/checkpoint.js';
import { createRateLimiter } from '../../src/recovery/rate-limiter.js';
import { EMPTY_SETTLE_MS, ReplayHandler } from '../../src/recovery/replayer.js';
import { encodeRescueLine } from '../../src/rescue/line-format.js';
import { OK, type SinkBackend, type WriteOutcome } from '../../src/sinks/contract.js';
import type { SinkEntry } from '../../src/record.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

/**
 * A backend with a resend window, as TCP has: the newest `window` written entries are unconfirmed
 * (they may still sit in kernel buffers); older ones count as received by the peer. A reset loses
 * the unconfirmed ones and reports them in `resend`.
 */
class WindowBackend implements SinkBackend {
  readonly type = 'fake';
  received: number[] = [];
  private pending: SinkEntry[] = [];
  writes = 0;
  /** The write (1-based) that meets a reset, and whether flush meets one. */
  failOnWrite = 0;
  failOnFlush = false;
  constructor(private readonly window: number) {}
  open(): Promise<void> {
    return Promise.resolve();
  }
  write(entries: SinkEntry[]): Promise<WriteOutcome> {
    if (++this.writes === this.failOnWrite) return Promise.resolve(this.reset());
    this.pending.push(...entries);
    while (this.pending.length > this.window) this.received.push(this.pending.shift()!.record!.n as number);
    return Promise.resolve(OK);
  }
  unconfirmed(): number {
    return this.pending.length;
  }
  flush(): Promise<WriteOutcome> {
    if (this.failOnFlush) return Promise.resolve(this.reset());
    this.received.push(...this.pending.map((e) => e.record!.n as number));
    this.pending = [];
    return Promise.resolve(OK);
  }
  private reset(): WriteOutcome {
    const resend = this.pending;
    this.pending = [];
    return { status: 'unavailable', accepted: 0, reason: 'connection reset', resend };
  }
  reconnect(): Promise<boolean> {
    return Promise.resolve(true);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(backend: SinkBackend, batchSize = 100) {
  const root = makeWorkRoot(tmpDir('wr-replayer-'), {
    groups: { a: 'group:\n  name: a\n  rule: ["/app/*"]\n  sinks:\n    - name: s1\n      connect: file_json\n      params: { file: s1.json }\n' },
  });
  const wr = loadWorkRoot(root);
  const rescueDir = path.join(root, 'data/rescue');
  const clock = new ManualClock(T0);
  const checkpoint = new RecoverCheckpoint(path.join(rescueDir, 'recover.lock'), true);
  const handler = new ReplayHandler({
    wr, rescueDir, checkpoint, limiter: createRateLimiter(0), batchSize, clock, log: silentLogger(), createBackend: () => backend,
  });
  const job = (id: string): Job => ({ id, state: 'in_flight', attempt: 0, data: {}, notBefore: 0, dispatchedAt: 0, updatedAt: 0 });
  return { root, rescueDir, checkpoint, handler, job };
}

const lineStart = (file: string, line: number): number => {
  const text = readFileSync(file);
  let at = 0;
  for (let i = 0; i < line; i++) at = text.indexOf(10, at) + 1;
  return at;
};

describe('replayer and the sink contract', () => {
  it('a reset fails the attempt with SINK_UNAVAILABLE from the oldest unconfirmed line; the retry delivers every line exactly once', async () => {
    const backend = new WindowBackend(250);
    backend.failOnWrite = 5; // batches 1–4 written (400 lines, the newest 250 unconfirmed), the 5th meets the reset
    const { rescueDir, checkpoint, handler, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, range(0, 1000));
    const id = path.relative(rescueDir, file);
    await expect(handler.run(job(id), new AbortController().signal)).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect(checkpoint.get(id)).toMatchObject({ offset: lineStart(file, 150), lines: 150 });
    expect(handler.statsFor('a/s1')).toMatchObject({ replayed: 150, lastError: 'connection reset' });
    expect(backend.received).toEqual(range(0, 150));
    const size = readFileSync(file).length;
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual(range(0, 1000));
    expect(RecoverCheckpoint.read(checkpoint.file)[id]).toMatchObject({ offset: size, lines: 1000 }); // EOF on disk before the file goes
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(false);
    expect(checkpoint.get(id)).toBeUndefined();
    expect(handler.statsFor('a/s1').replayed).toBe(1000);
  });

  it('at EOF the file is deleted only after flush() confirms; a failed flush resumes from the oldest unconfirmed line', async () => {
    const backend = new WindowBackend(250);
    backend.failOnFlush = true;
    const { rescueDir, checkpoint, handler, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, range(0, 1000));
    const id = path.relative(rescueDir, file);
    await expect(handler.run(job(id), new AbortController().signal)).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect(existsSync(file)).toBe(true);
    expect(checkpoint.get(id)).toMatchObject({ offset: lineStart(file, 750), lines: 750 });
    expect(RecoverCheckpoint.read(checkpoint.file)[id]).toMatchObject({ offset: lineStart(file, 750) }); // durable, not only in memory
    backend.failOnFlush = false;
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual(range(0, 1000));
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(false);
  });

  it('an unknown route is a permanent REPLAY_ROUTE_UNKNOWN', async () => {
    const { rescueDir, handler, job } = setup(new WindowBackend(0));
    const file = writeRescueFile(rescueDir, 'a', 'nosuch', T0, 0, [1]);
    const err: unknown = await handler.run(job(path.relative(rescueDir, file)), new AbortController().signal).catch((e: unknown) => e);
    expect(isPermanent(err)).toBe(true);
    expect(err).toMatchObject({ code: 'REPLAY_ROUTE_UNKNOWN' });
  });

  it('a checkpoint entry of an earlier file with the same name never applies to a new one', async () => {
    const backend = new WindowBackend(0);
    const { rescueDir, checkpoint, handler, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, range(0, 300));
    const id = path.relative(rescueDir, file);
    // left by a crash between deleting the earlier file and dropping its entry
    await checkpoint.set(id, { offset: lineStart(file, 200), lines: 200, file: '1-2-3-deadbeef' });
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual(range(0, 300));
  });

  it('a version 1 entry (no identity) past the end of its file is not resumed from: the file replays from 0, not skipped whole', async () => {
    const backend = new WindowBackend(0);
    const { root, rescueDir, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, range(0, 30));
    const id = path.relative(rescueDir, file);
    writeFileSync(path.join(rescueDir, 'recover.lock'), JSON.stringify({ version: 1, files: { [id]: { offset: 999_999, lines: 5000 } } }));
    const checkpoint = new RecoverCheckpoint(path.join(rescueDir, 'recover.lock'), true); // read now, as a restart would
    const handler = new ReplayHandler({
      wr: loadWorkRoot(root), rescueDir, checkpoint, limiter: createRateLimiter(0), batchSize: 100, clock: new ManualClock(T0), log: silentLogger(), createBackend: () => backend,
    });
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual(range(0, 30));
  });

  it('a file written in place while it is replayed (cp, not mv) is kept, not deleted; the retry delivers what came after', async () => {
    const backend = new WindowBackend(0);
    const { rescueDir, handler, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, range(0, 10));
    const id = path.relative(rescueDir, file);
    const write = backend.write.bind(backend);
    backend.write = (entries) => {
      if (backend.writes === 0) appendFileSync(file, range(10, 20).map((n) => encodeRescueLine({ id: `src:${n}`, kind: 'record', record: { n } })).join(''));
      return write(entries);
    };
    await expect(handler.run(job(id), new AbortController().signal)).rejects.toMatchObject({ code: 'IO_ERROR' });
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(true);
    await handler.run(job(id), new AbortController().signal);
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(false);
    // the file changed, so its checkpoint no longer applies: what was read before is sent again, nothing is lost
    expect(backend.received).toEqual([...range(0, 10), ...range(0, 20)]);
  });

  it('an empty file seen before its first write (written in place) is kept; once written its lines replay; an empty file that has settled is deleted', async () => {
    const backend = new WindowBackend(0);
    const { root, rescueDir, job } = setup(backend);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, []);
    const clock = new ManualClock(statSync(file).mtimeMs);
    const handler = new ReplayHandler({
      wr: loadWorkRoot(root), rescueDir, checkpoint: new RecoverCheckpoint(path.join(rescueDir, 'recover.lock'), true), limiter: createRateLimiter(0), batchSize: 100, clock, log: silentLogger(), createBackend: () => backend,
    });
    const id = path.relative(rescueDir, file);
    await handler.run(job(id), new AbortController().signal);
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(true);
    appendFileSync(file, range(0, 5).map((n) => encodeRescueLine({ id: `src:${n}`, kind: 'record', record: { n } })).join(''));
    await handler.run(job(id), new AbortController().signal);
    await handler.filesDeleted();
    expect(existsSync(file)).toBe(false);
    expect(backend.received).toEqual(range(0, 5));
    const settled = writeRescueFile(rescueDir, 'a', 's1', T0, 1, []);
    clock.advance(statSync(settled).mtimeMs + EMPTY_SETTLE_MS - clock.now());
    await handler.run(job(path.relative(rescueDir, settled)), new AbortController().signal);
    await handler.filesDeleted();
    expect(existsSync(settled)).toBe(false);
  });

  it('a line of invalid UTF-8 bytes is set aside with its true line number and byte offset; offsets stay exact', async () => {
    const backend = new WindowBackend(0);
    const { rescueDir, handler, job, checkpoint } = setup(backend, 7);
    const file = writeRescueFile(rescueDir, 'a', 's1', T0, 0, []);
    const lines = range(0, 40).map((n) => Buffer.from(encodeRescueLine({ id: `s:${n}`, kind: 'record', record: { n, t: n % 3 ? 'é 日本語 🚀' : 'x' } })));
    const good = lines[20]!.toString();
    const at = good.indexOf('"t":"') + 5;
    lines[20] = Buffer.concat([Buffer.from(good.slice(0, at)), Buffer.alloc(3000, 0xff), Buffer.from(good.slice(at))]);
    writeFileSync(file, Buffer.concat(lines));
    const id = path.relative(rescueDir, file);
    // resume from a checkpoint past the damaged line: the offset is in file bytes
    const resume = lines.slice(0, 25).reduce((a, b) => a + b.length, 0);
    await checkpoint.set(id, { offset: resume, lines: 25 });
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual(range(25, 40));
    await handler.filesDeleted();
    writeFileSync(file, Buffer.concat(lines));
    await handler.run(job(id), new AbortController().signal);
    expect(backend.received).toEqual([...range(25, 40), ...range(0, 20), ...range(21, 40)]);
    const bad = readFileSync(path.join(rescueDir, 'dead', `${id}.bad.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; offset: number; reason: string; base64?: string });
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ line: 21, offset: lines.slice(0, 20).reduce((a, b) => a + b.length, 0), reason: 'crc mismatch' });
    // the copy keeps the line's exact bytes (SPEC section 5: the invalid line is copied), not only their lossy UTF-8 text
    expect(Buffer.from(bad[0]!.base64 ?? '', 'base64').equals(lines[20].subarray(0, -1))).toBe(true);
  });
});
