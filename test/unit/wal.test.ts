import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWrError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/queue/job-state.js';
import { QueueStore, readQueueState } from '../../src/queue/store.js';
import { decodeEvent, encodeEvent } from '../../src/queue/wal/format.js';
import { repairWal } from '../../src/queue/wal/repair.js';
import { damagedWalName, parseDamagedWalName, parseWalName, walName } from '../../src/queue/wal/segment-name.js';
import { readDamageLog } from '../../src/queue/damage-log.js';
import { WalWriter } from '../../src/queue/wal/writer.js';
import { ManualClock } from '../../src/platform/clock.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import { tmpDir } from '../helpers/tmp.js';
import { pino, type Logger } from 'pino';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

const events: QueueEvent[] = [
  { seq: 1, type: 'ENQUEUE', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000000, data: { payload: { key: 'benchmark/s', rank: 'r1' } } },
  { seq: 2, type: 'DISPATCH', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000001, data: {} },
  { seq: 3, type: 'RETRY', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000002, data: { error: 'sink "x" down', notBefore: 1795356000102 } },
  { seq: 4, type: 'DISPATCH', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000103, data: {} },
  { seq: 5, type: 'ACK', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000104, data: {} },
];

/** A logger that keeps every record at error level or above, parsed. */
function captureLog(out: Array<Record<string, unknown>>): Logger {
  return pino({ level: 'error' }, { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) });
}

async function writeWal(dir: string, evs: QueueEvent[]): Promise<string> {
  const w = await WalWriter.open({ dir, fsync: 'none', nextSeq: 1 });
  await w.append(evs.map(({ seq: _s, ...e }) => e));
  const file = w.currentSegment;
  await w.close();
  return file;
}

describe('WAL format', () => {
  it('round-trips every event and rejects a changed one', () => {
    for (const ev of events) {
      const line = encodeEvent(ev);
      expect(line.endsWith('\n')).toBe(true);
      expect(decodeEvent(line.slice(0, -1))).toEqual({ ok: true, event: ev });
    }
  });

  it('matches the golden WAL file byte for byte', () => {
    const golden = readFileSync(path.join(FIXTURES, 'wal-golden.log'), 'utf8');
    expect(events.map(encodeEvent).join('')).toBe(golden);
  });

  it('segment names round-trip and foreign names do not parse', () => {
    expect(parseWalName(walName(42))).toBe(42);
    expect(walName(7)).toBe('wal-0000000000000007.log');
    for (const bad of ['wal-1.log', 'wal-0000000000000007.log.broken', 'snapshot.json', 'wal-000000000000000x.log', '.wal-0000000000000007.log.tmp']) {
      expect(parseWalName(bad)).toBeUndefined();
    }
  });
});

describe('WAL start-up: torn tail versus corruption', () => {
  it('a torn last record, cut at every byte offset, is dropped and the rest recovered', async () => {
    const base = tmpDir();
    const full = events.map(encodeEvent).join('');
    const lastStart = full.length - encodeEvent(events[4]!).length;
    for (let cut = lastStart; cut < full.length; cut++) {
      const dir = path.join(base, `cut-${cut}`);
      const file = await writeWal(dir, []);
      writeFileSync(file, full.slice(0, cut));
      const store = await QueueStore.open({ dir, fsync: 'none' });
      expect(store.get(events[0]!.job)!.state).toBe('pending'); // in_flight at seq 4 requeued at start
      expect(store.recovery.tornBytes).toBe(cut - lastStart);
      await store.close({ snapshot: false });
      if (cut > lastStart) expect(readdirSync(dir).some((n) => n.endsWith('.broken'))).toBe(true);
    }
  });

  const positions: Array<[string, (line: string) => number]> = [
    ['seq', (l) => l.indexOf('"seq":') + 6],
    ['type', (l) => l.indexOf('"type":"') + 8],
    ['payload', (l) => l.indexOf('"data":') + 8],
    ['crc', (l) => l.indexOf('"crc":') + 6],
  ];
  for (const [name, at] of positions) {
    it(`a flipped bit in the ${name} of a record before the tail does not stop start-up: segment kept aside, damage named with file and offset, state rebuilt from the good records`, async () => {
      const dir = tmpDir();
      const file = await writeWal(dir, events);
      const buf = readFileSync(file);
      const line2Start = encodeEvent(events[0]!).length;
      const line2 = encodeEvent(events[1]!);
      buf[line2Start + at(line2)]! ^= 0x01;
      writeFileSync(file, buf);
      const logged: Array<Record<string, unknown>> = [];
      const store = await QueueStore.open({ dir, fsync: 'none', log: captureLog(logged) });
      // DISPATCH (seq 2) is lost, so the RETRY after it no longer fits and is skipped; the rest holds
      expect(store.get(events[0]!.job)!.state).toBe('completed');
      expect(store.recovery.skippedEvents).toBe(1);
      expect(store.recovery.damage).toHaveLength(1);
      const d = store.recovery.damage[0]!;
      expect(d).toMatchObject({ file, offset: line2Start });
      expect(d.reason).toMatch(/CRC mismatch|invalid record/);
      expect(readFileSync(d.keptAs)).toEqual(buf); // the original bytes, for a look later
      expect(logged).toEqual([expect.objectContaining({ level: 50, file, offset: line2Start, keptAs: d.keptAs })]);
      await store.close({ snapshot: false });
      // the damaged segment is out of the WAL: the next start and a status read see no damage
      expect(existsSync(file)).toBe(false);
      const state = readQueueState(dir);
      expect(state.damage).toEqual([]);
      expect(state.jobs.get(events[0]!.job)!.state).toBe('completed');
      const again = await QueueStore.open({ dir, fsync: 'none' });
      expect(again.recovery.damage).toEqual([]);
      await again.close();
      expect(readDamageLog(dir)).toHaveLength(1);
    });
  }

  it('damage in any record, the last one included, leaves a WAL the next start reads without damage or a gap', async () => {
    for (let line = 0; line < events.length; line++) {
      const dir = tmpDir();
      const file = await writeWal(dir, events);
      const text = readFileSync(file, 'utf8');
      const starts = events.map((_, i) => events.slice(0, i).map(encodeEvent).join('').length);
      const at = starts[line]! + 2; // inside `"seq"`: still a complete line, now failing its CRC
      writeFileSync(file, `${text.slice(0, at)}X${text.slice(at + 1)}`);
      const store = await QueueStore.open({ dir, fsync: 'none' });
      expect(store.recovery.damage.map((x) => x.offset)).toEqual([starts[line]]);
      const first = Object.fromEntries(store.jobs().map((j) => [j.id, j.state]));
      await store.enqueue('after', {}); // new events go after every damaged seq
      await store.close({ snapshot: false });
      const reopened = await QueueStore.open({ dir, fsync: 'none' });
      expect(reopened.recovery.damage).toEqual([]);
      expect(Object.fromEntries(reopened.jobs().map((j) => [j.id, j.state]))).toEqual({ ...first, after: 'pending' });
      await reopened.close({ snapshot: false });
    }
  });

  it('a last segment holding nothing but a damaged record is replaced by a new one, not appended to', async () => {
    const dir = tmpDir();
    const w = await WalWriter.open({ dir, fsync: 'none', nextSeq: 1 });
    await w.append([{ type: 'ENQUEUE', job: 'a', ts: 1, data: {} }, { type: 'DISPATCH', job: 'a', ts: 2, data: {} }, { type: 'ACK', job: 'a', ts: 3, data: {} }]);
    await w.rotate();
    await w.append([{ type: 'ENQUEUE', job: 'b', ts: 4, data: {} }]);
    const last = w.currentSegment;
    await w.close();
    writeFileSync(last, readFileSync(last, 'utf8').replace('"seq":4', '"seq":9'));
    const store = await QueueStore.open({ dir, fsync: 'none' });
    expect(store.recovery.damage.map((x) => x.file)).toEqual([last]);
    expect(store.get('b')).toBeUndefined(); // the rescue-directory scan enqueues it again
    await store.close({ snapshot: false });
    expect(existsSync(last)).toBe(false);
    const reopened = await QueueStore.open({ dir, fsync: 'none' });
    expect(reopened.recovery.damage).toEqual([]);
    expect(await reopened.enqueue('b', {})).toBe(true);
    await reopened.close();
  });

  it('a crash after the damage is recorded but before the rebuilt state is snapshotted reports it once', async () => {
    const dir = tmpDir();
    const file = await writeWal(dir, events);
    const buf = readFileSync(file);
    buf[encodeEvent(events[0]!).length + 3]! ^= 0x01;
    writeFileSync(file, buf);
    const fs: FsPort = {
      ...realFs,
      rename: (from, to) => (to.endsWith('snapshot.json') ? Promise.reject(new Error('EIO (injected)')) : realFs.rename(from, to)),
    };
    await expect(QueueStore.open({ dir, fsync: 'none', fs })).rejects.toThrow(/EIO/);
    const store = await QueueStore.open({ dir, fsync: 'none' });
    expect(store.recovery.damage).toHaveLength(1);
    await store.close();
    expect(readDamageLog(dir)).toHaveLength(1);
    expect(readdirSync(dir).filter((n) => parseDamagedWalName(n))).toHaveLength(1);
  });

  it('queue repair, for an operator who looks first, keeps a .broken copy and leaves nothing for start-up to set aside', async () => {
    const dir = tmpDir();
    const file = await writeWal(dir, events);
    const buf = readFileSync(file);
    buf[encodeEvent(events[0]!).length + 3]! ^= 0x01;
    writeFileSync(file, buf);
    expect(readQueueState(dir).damage.map((x) => x.file)).toEqual([file]); // status shows it before any start
    const report = repairWal(dir);
    expect(report.repaired).toEqual([{ file, backup: `${file}.broken`, droppedLines: 1, droppedTornBytes: 0 }]);
    expect(readFileSync(`${file}.broken`)).toEqual(buf);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const store = await QueueStore.open({ dir, fsync: 'none' });
    expect(store.recovery.damage).toEqual([]);
    expect(store.get(events[0]!.job)!.state).toBe('completed');
    await store.close();
  });

  it('damaged-segment names round-trip and never parse as segments', () => {
    const name = damagedWalName(walName(7), 1795356000000);
    expect(name).toBe('wal-0000000000000007.log.damaged-1795356000000');
    expect(parseDamagedWalName(name)).toEqual({ segment: walName(7), firstSeq: 7, at: 1795356000000 });
    expect(parseWalName(name)).toBeUndefined();
    for (const bad of ['wal-0000000000000007.log', 'wal-0000000000000007.log.broken', 'wal-7.log.damaged-1', 'wal-0000000000000007.log.damaged-', '.wal-0000000000000007.log.damaged-1.tmp']) {
      expect(parseDamagedWalName(bad)).toBeUndefined();
    }
  });
});

describe('WAL writer durability', () => {
  it('fsync always: concurrent appends share fdatasyncs (group commit), each resolves only after a sync that covers it', async () => {
    const dir = tmpDir();
    const log: string[] = [];
    let synced = 0;
    const fs: FsPort = {
      ...realFs,
      writeSync(fh, data) {
        log.push('write');
        realFs.writeSync(fh, data);
      },
      async datasync(fh) {
        log.push('sync');
        await realFs.datasync(fh);
        synced = log.length;
      },
    };
    const w = await WalWriter.open({ dir, fsync: 'always', nextSeq: 1, fs });
    const resolvedAfter: number[] = [];
    const ev = (i: number): Omit<QueueEvent, 'seq'> => ({ type: 'ENQUEUE', job: `j${i}`, ts: 1, data: {} });
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.append([ev(i)]).then(() => resolvedAfter.push(synced))));
    const syncs = log.filter((x) => x === 'sync').length;
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThanOrEqual(10); // 200 appends, a handful of shared syncs
    // every append resolved after a sync that came after the last write before it
    expect(resolvedAfter.every((n) => n > 0 && log[n - 1] === 'sync')).toBe(true);
    await w.close();
    expect(readFileSync(path.join(dir, walName(1)), 'utf8').trim().split('\n')).toHaveLength(200);
  });

  it('a segment is named by the seq of its first event, even when appends race a rotation', async () => {
    const dir = tmpDir();
    const w = await WalWriter.open({ dir, fsync: 'none', nextSeq: 1 });
    const ev = (i: number): Omit<QueueEvent, 'seq'> => ({ type: 'ENQUEUE', job: `j${i}`, ts: 1, data: {} });
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) {
      ops.push(w.append([ev(i)]));
      if (i % 37 === 0) ops.push(w.rotate());
    }
    await Promise.all(ops);
    await w.close();
    let expected = 1;
    for (const name of readdirSync(dir).filter((n) => parseWalName(n) !== undefined).sort()) {
      const lines = readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean);
      if (lines.length === 0) continue;
      expect(parseWalName(name)).toBe(expected);
      for (const l of lines) {
        const d = decodeEvent(l);
        expect(d.ok && d.event.seq).toBe(expected++);
      }
    }
    expect(expected).toBe(301);
  });

  it('a rotation asked for as soon as an append resolves is carried out (no lost wake-up of the write loop)', async () => {
    const dir = tmpDir();
    const w = await WalWriter.open({ dir, fsync: 'none', nextSeq: 1 });
    await w.append([{ type: 'ENQUEUE', job: 'a', ts: 1, data: {} }]);
    await w.rotate(); // pushed in the same microtask run that resolved the append
    await w.append([{ type: 'ENQUEUE', job: 'b', ts: 2, data: {} }]);
    expect(w.currentSegment).toBe(path.join(dir, walName(2)));
    await w.close();
  });

  it('a rotation that could not open its new segment fails alone: the next append opens one and lands in it', async () => {
    const dir = tmpDir();
    let failOpen = false;
    const fs: FsPort = { ...realFs, open: (p, flags, mode) => (failOpen ? Promise.reject(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })) : realFs.open(p, flags, mode)) };
    const w = await WalWriter.open({ dir, fsync: 'none', nextSeq: 1, fs });
    await w.append([{ type: 'ENQUEUE', job: 'a', ts: 1, data: {} }]);
    failOpen = true;
    await expect(w.rotate()).rejects.toThrow(/EMFILE/);
    failOpen = false;
    const [ev] = await w.append([{ type: 'ENQUEUE', job: 'b', ts: 2, data: {} }]);
    expect(ev!.seq).toBe(2);
    expect(w.currentSegment).toBe(path.join(dir, walName(2)));
    await w.close();
    expect(readFileSync(path.join(dir, walName(2)), 'utf8')).toBe(encodeEvent(ev!));
  });

  it('fsync none never syncs; batch syncs on the timer', async () => {
    for (const policy of ['none', 'batch'] as const) {
      const dir = tmpDir();
      let syncs = 0;
      const clock = new ManualClock(0);
      const fs: FsPort = { ...realFs, datasync: async (fh) => void (syncs++, await realFs.datasync(fh)) };
      const w = await WalWriter.open({ dir, fsync: policy, nextSeq: 1, fs, clock, batchSyncMs: 10 });
      await w.append([{ type: 'ENQUEUE', job: 'a', ts: 1, data: {} }]);
      expect(syncs).toBe(0); // resolved before any sync
      clock.advance(10); // the batch timer fires here and starts its fdatasync at once
      expect(syncs).toBe(policy === 'batch' ? 1 : 0);
      await w.close();
    }
  });
});

describe('snapshots', () => {
  it('falls back to the backup when the current snapshot is corrupt, with the WAL after the backup kept', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(1000);
    const store = await QueueStore.open({ dir, fsync: 'none', clock });
    const segments = (): string[] => readdirSync(dir).filter((n) => parseWalName(n) !== undefined).sort();
    await store.enqueue('a', {});
    await store.snapshot(); // snapshot #1 (seq 1): a pending
    await store.transition('DISPATCH', 'a');
    await store.transition('ACK', 'a');
    await store.enqueue('b', {});
    await store.snapshot(); // snapshot #2 (seq 4): a completed, b pending; #1 becomes the backup
    expect(segments()).toEqual(['wal-0000000000000002.log', 'wal-0000000000000005.log']); // seq 1 is covered by the backup
    await store.transition('DISPATCH', 'b');
    await store.snapshot(); // snapshot #3 (seq 5); #2 becomes the backup
    expect(segments()).toEqual(['wal-0000000000000005.log', 'wal-0000000000000006.log']);
    await store.transition('ACK', 'b');
    await store.close({ snapshot: false });

    writeFileSync(path.join(dir, 'snapshot.json'), '{"schemaVer":1,"lastSeq":5,"jobs":[],"crc":1}\n');
    const state = readQueueState(dir);
    expect(state.snapshot).toBe('backup');
    // backup #2 plus every WAL event after it: exactly the state before the corruption
    expect(Object.fromEntries([...state.jobs].map(([id, j]) => [id, j.state]))).toEqual({ a: 'completed', b: 'completed' });
    expect(state.lastSeq).toBe(6);
    // the next snapshot keeps the unreadable file aside instead of making it the backup
    const reopened = await QueueStore.open({ dir, fsync: 'none', clock });
    await reopened.close();
    expect(readdirSync(dir)).toContain('snapshot.json.broken');
    expect(readQueueState(dir).jobs.get('b')!.state).toBe('completed');
  });

  it('refuses to start when events between the snapshot and the WAL are missing', async () => {
    const dir = tmpDir();
    const store = await QueueStore.open({ dir, fsync: 'none' });
    await store.enqueue('a', {});
    await store.snapshot();
    await store.enqueue('b', {});
    await store.snapshot();
    await store.enqueue('c', {});
    await store.close({ snapshot: false });
    for (const f of ['snapshot.json', 'snapshot.bak.json']) writeFileSync(path.join(dir, f), 'garbage');
    let caught: unknown;
    try {
      readQueueState(dir);
    } catch (err) {
      caught = err;
    }
    expect(isWrError(caught, 'SNAPSHOT_CORRUPT')).toBe(true);
    expect((caught as Error).message).toMatch(/WAL starts at seq 2/);
  });

  it('recovers state from snapshot plus the WAL tail after it', async () => {
    const dir = tmpDir();
    const store = await QueueStore.open({ dir, fsync: 'always' });
    await store.enqueue('a', { key: 'k' });
    await store.snapshot();
    await store.transition('DISPATCH', 'a');
    await store.enqueue('b', {});
    await store.close({ snapshot: false });
    const reopened = await QueueStore.open({ dir, fsync: 'none' });
    expect(reopened.recovery.snapshot).toBe('main');
    expect(reopened.get('a')).toMatchObject({ state: 'pending', data: { key: 'k' } }); // in-flight requeued
    expect(reopened.get('b')!.state).toBe('pending');
    expect(reopened.recovery.requeued).toBe(1);
    await reopened.close();
  });
});
