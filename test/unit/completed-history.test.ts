import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { CompletedHistory } from '../../src/queue/completed-history.js';
import { applyEvent, type EventType, type Job } from '../../src/queue/job-state.js';
import { encodeSnapshot } from '../../src/queue/snapshot.js';
import { QueueStore, readQueueState } from '../../src/queue/store.js';
import { parseWalName } from '../../src/queue/wal/segment-name.js';
import { tmpDir } from '../helpers/tmp.js';

const states = (jobs: Iterable<Job>): Record<string, string> => Object.fromEntries([...jobs].map((j) => [j.id, j.state]));

describe('bounded completed-job history', () => {
  it('keeps the most recent completed jobs by completion, never a pending, in-flight or dead one', () => {
    const jobs = new Map<string, Job>();
    const history = CompletedHistory.of(jobs, 2).history;
    let seq = 0;
    const ev = (type: EventType, job: string): void => {
      applyEvent(jobs, { seq: ++seq, type, job, ts: seq, data: {} });
      history.noteApplied(jobs, job);
    };
    for (const id of ['a', 'b', 'c', 'd', 'e']) ev('ENQUEUE', id);
    for (const id of ['a', 'b', 'c']) ev('DISPATCH', id);
    ev('DEAD', 'd');
    ev('ACK', 'b');
    ev('ACK', 'a');
    ev('ACK', 'c'); // b, completed first, goes
    expect(states(jobs.values())).toEqual({ a: 'completed', c: 'completed', d: 'dead', e: 'pending' });
    ev('ENQUEUE', 'a'); // a file that came back: out of the history, c stays
    ev('ENQUEUE', 'b'); // a pruned id is enqueued like a new one
    expect(states(jobs.values())).toEqual({ a: 'pending', b: 'pending', c: 'completed', d: 'dead', e: 'pending' });
    expect(history.size).toBe(1);
  });

  it('a smaller limit at start keeps the latest completions of the snapshot (listed in completion order)', () => {
    const job = (id: string, state: Job['state']): Job => ({ id, state, attempt: 0, data: {}, notBefore: 0, dispatchedAt: 0, updatedAt: 0 });
    const jobs = new Map([job('y', 'completed'), job('p', 'dead'), job('z', 'completed'), job('x', 'completed')].map((j) => [j.id, j]));
    expect(CompletedHistory.of(jobs, 1).pruned).toBe(2);
    expect(states(jobs.values())).toEqual({ x: 'completed', p: 'dead' });
  });

  it('a re-enqueue of a completed and pruned id works, live and when its ENQUEUE is replayed after a snapshot without it', async () => {
    const dir = tmpDir();
    const clock = new ManualClock(1000);
    const store = await QueueStore.open({ dir, fsync: 'none', clock, completedHistory: 2 });
    const run = async (id: string): Promise<void> => {
      await store.enqueue(id, { id });
      await store.transition('DISPATCH', id);
      clock.advance(1);
      await store.transition('ACK', id);
    };
    for (const id of ['a', 'b', 'c']) await run(id);
    expect(states(store.jobs())).toEqual({ b: 'completed', c: 'completed' });
    expect(store.counts()).toMatchObject({ completed: 2 });
    await store.snapshot(); // a is in neither the snapshot nor memory
    await run('a');
    await store.enqueue('b', {});
    await store.close({ snapshot: false });
    const reopened = await QueueStore.open({ dir, fsync: 'none', clock, completedHistory: 2 });
    expect(states(reopened.jobs())).toEqual({ a: 'completed', b: 'pending', c: 'completed' });
    expect(reopened.counts()).toEqual({ pending: 1, in_flight: 0, completed: 2, dead: 0 });
    await reopened.close();
    expect(states(readQueueState(dir, { completedHistory: 1 }).jobs.values())).toEqual({ a: 'completed', b: 'pending' });
  });

  it('a restart drops the same completed jobs the run would have: snapshots keep completion order', async () => {
    const dir = tmpDir();
    const store = await QueueStore.open({ dir, fsync: 'none', completedHistory: 2 });
    const finish = async (id: string): Promise<void> => {
      await store.transition('DISPATCH', id);
      await store.transition('ACK', id);
    };
    for (const id of ['b', 'a', 'c']) await store.enqueue(id, {});
    await finish('a');
    await finish('b'); // enqueued before a, completed after it
    await store.close();
    const reopened = await QueueStore.open({ dir, fsync: 'none', completedHistory: 2 });
    await reopened.transition('DISPATCH', 'c');
    await reopened.transition('ACK', 'c'); // a completed first: a goes
    expect(states(reopened.jobs())).toEqual({ b: 'completed', c: 'completed' });
    await reopened.close({ snapshot: false });
  });

  it('jobs enqueued and completed through the store: memory, snapshot and WAL stay bounded by the history', async () => {
    const dir = tmpDir();
    const store = await QueueStore.open({ dir, fsync: 'none', completedHistory: 100 });
    const ROUND = 2000;
    const sizes: number[] = [];
    for (let r = 0; r < 10; r++) {
      const ids = Array.from({ length: ROUND }, (_, i) => `grp/sink-${r}-${i}.dat`);
      // concurrently, so the WAL writes each step of a round in one append
      await Promise.all(ids.map((id) => store.enqueue(id, { key: 'grp/sink', rank: id })));
      await Promise.all(ids.map((id) => store.transition('DISPATCH', id)));
      await Promise.all(ids.map((id) => store.transition('ACK', id)));
      expect(store.jobs().length).toBe(100);
      await store.snapshot();
      sizes.push(statSync(path.join(dir, 'snapshot.json')).size);
    }
    expect(store.counts()).toEqual({ pending: 0, in_flight: 0, completed: 100, dead: 0 });
    await store.close();
    expect(Math.max(...sizes)).toBeLessThan(100 * 250);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(100 * 5); // ids differ by a digit or two
    expect(readdirSync(dir).filter((n) => parseWalName(n) !== undefined).length).toBeLessThanOrEqual(3);
  });

  it('200k jobs enqueued and completed by the state reducer: the job map and its snapshot stay at 100 jobs', () => {
    const jobs = new Map<string, Job>();
    const history = CompletedHistory.of(jobs, 100).history;
    const sizes: number[] = [];
    let seq = 0;
    for (let i = 0; i < 200_000; i++) {
      const job = `grp/sink-2026-11-22_10:00:00-${i}.dat`;
      for (const type of ['ENQUEUE', 'DISPATCH', 'ACK'] as const) {
        applyEvent(jobs, { seq: ++seq, type, job, ts: i, data: type === 'ENQUEUE' ? { payload: { key: 'grp/sink' } } : {} });
        history.noteApplied(jobs, job);
      }
      if (i % 20_000 === 19_999) sizes.push(encodeSnapshot({ lastSeq: seq, jobs: [...jobs.values()] }).length);
    }
    expect(jobs.size).toBe(100);
    expect([...jobs.keys()][0]).toBe('grp/sink-2026-11-22_10:00:00-199900.dat');
    expect(Math.max(...sizes)).toBeLessThan(100 * 250);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(100 * 5); // the ids grow by a digit
  });
});
