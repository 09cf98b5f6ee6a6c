import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWrError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/queue/job-state.js';
import { QueueStore, readQueueState } from '../../src/queue/store.js';
import { decodeEvent, encodeEvent } from '../../src/queue/wal/format.js';
import { repairWal } from '../../src/queue/wal/repair.js';
import { parseWalName, walName } from '../../src/queue/wal/segment-name.js';
import { WalWriter } from '../../src/queue/wal/writer.js';
import { ManualClock } from '../../src/platform/clock.js';
import { realFs, type FsPort } from '../../src/platform/fs-port.js';
import { tmpDir } from '../helpers/tmp.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

const events: QueueEvent[] = [
  { seq: 1, type: 'ENQUEUE', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000000, data: { payload: { key: 'benchmark/s', rank: 'r1' } } },
  { seq: 2, type: 'DISPATCH', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000001, data: {} },
  { seq: 3, type: 'RETRY', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000002, data: { error: 'sink "x" down', notBefore: 1795356000102 } },
  { seq: 4, type: 'DISPATCH', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000103, data: {} },
  { seq: 5, type: 'ACK', job: 'benchmark/s-2026-11-22_14:00:00-0.dat', ts: 1795356000104, data: {} },
];

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
    it(`a flipped bit in the ${name} of a record before the tail refuses start-up naming file and offset, until repair`, async () => {
      const dir = tmpDir();
      const file = await writeWal(dir, events);
      const buf = readFileSync(file);
      const line2Start = encodeEvent(events[0]!).length;
      const line2 = encodeEvent(events[1]!);
      buf[line2Start + at(line2)]! ^= 0x01;
      writeFileSync(file, buf);
      let caught: unknown;
      try {
        await QueueStore.open({ dir, fsync: 'none' });
      } catch (err) {
        caught = err;
      }
      expect(isWrError(caught)).toBe(true);
      expect((caught as Error).message).toContain(file);
      expect((caught as Error).message).toContain(`at byte ${line2Start}`);
      const report = repairWal(dir);
      expect(report.repaired).toHaveLength(1);
      expect(readFileSync(`${file}.broken`)).toEqual(buf);
      const state = readQueueState(dir);
      expect(state.jobs.get(events[0]!.job)!.state).toBe('completed');
      expect(state.lastSeq).toBe(5);
    });
  }
});

describe('WAL writer durability', () => {
  it('fsync always: concurrent appends share fdatasyncs (group commit), each resolves only after a sync that covers it', async () => {
    const dir = tmpDir();
    const log: string[] = [];
    let synced = 0;
    const fs: FsPort = {
      ...realFs,
      async write(fh, data) {
        log.push('write');
        await realFs.write(fh, data);
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
