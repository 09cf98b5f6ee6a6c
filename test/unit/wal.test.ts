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
  await w.append(evs.map(({ seq: _s, ...e }) => e)).done;
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

describe('snapshots', () => {
  it('falls back to the backup when the current snapshot is corrupt, and deletes covered segments', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(1000);
    const store = await QueueStore.open({ dir, fsync: 'none', clock });
    await store.enqueue('a', {});
    await store.snapshot(); // snapshot #1: a pending
    await store.transition('DISPATCH', 'a');
    await store.transition('ACK', 'a');
    await store.enqueue('b', {});
    await store.snapshot(); // snapshot #2: a completed, b pending; #1 becomes the backup
    const segs = readdirSync(dir).filter((n) => parseWalName(n) !== undefined);
    expect(segs).toHaveLength(1); // every segment wholly before snapshot #2 is gone
    await store.close({ snapshot: false });

    writeFileSync(path.join(dir, 'snapshot.json'), '{"schemaVer":1,"lastSeq":5,"jobs":[],"crc":1}\n');
    const state = readQueueState(dir);
    expect(state.snapshot).toBe('backup');
    // the backup (seq 1) plus no WAL for seqs 2..5 (deleted): a pending. The WAL it needs is gone,
    // which is why segments are only deleted after the next snapshot is written.
    expect(state.jobs.get('a')!.state).toBe('pending');
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
