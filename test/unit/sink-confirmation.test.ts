import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { decodeRescueLine } from '../../src/rescue/line-format.js';
import { OK, type SinkBackend, type WriteOutcome } from '../../src/sinks/contract.js';
import type { SinkEntry } from '../../src/record.js';
import { Confirmations } from '../../src/sinks/confirmations.js';
import { CONFIRM_IDLE_MS, CONFIRM_MAX_FACTOR, FailoverSink } from '../../src/sinks/runtime.js';
import { tmpDir } from '../helpers/tmp.js';

const entry = (i: number): SinkEntry => ({ id: `src:${i}`, kind: 'record', record: { n: i } });
const range = (from: number, to: number): SinkEntry[] => Array.from({ length: to - from }, (_, k) => entry(from + k));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A backend like TCP: what it takes sits in a window it cannot vouch for until told (`vouch`), a
 * measurement says so (`measurable` entries confirmed by `confirmQueued`), or a flush succeeds;
 * `down` makes the next write or flush fail and hand the window back. `seesAll`: its measurement
 * sees the whole window (a loopback peer); else it is a remote peer.
 */
class WindowBackend implements SinkBackend {
  readonly type = 'window';
  readonly confirmMs = 1000;
  window: SinkEntry[] = [];
  measurable = 0;
  seesAll = false;
  down = false;
  flushes = 0;
  measures = 0;
  open = (): Promise<void> => Promise.resolve();
  reconnect = (): Promise<boolean> => Promise.resolve(!this.down);
  close = (): Promise<void> => Promise.resolve();
  unconfirmed = (): number => this.window.length;
  vouch(n: number): void {
    this.window.splice(0, n);
  }
  confirmQueued(): boolean {
    this.measures++;
    this.vouch(this.measurable);
    this.measurable = 0;
    return this.seesAll;
  }
  write(entries: SinkEntry[]): Promise<WriteOutcome> {
    if (this.down) return Promise.resolve(this.fail());
    this.window.push(...entries);
    return Promise.resolve(OK);
  }
  flush(): Promise<WriteOutcome> {
    this.flushes++;
    if (this.down) return Promise.resolve(this.fail());
    this.window = [];
    return Promise.resolve(OK);
  }
  private fail(): WriteOutcome {
    const resend = this.window;
    this.window = [];
    return { status: 'unavailable', accepted: 0, reason: 'reset by peer', resend };
  }
}

function setup(): { sink: FailoverSink; backend: WindowBackend; clock: ManualClock; rescued: () => number[] } {
  const dir = tmpDir();
  const clock = new ManualClock(Date.UTC(2026, 10, 30, 10, 0, 0));
  const backend = new WindowBackend();
  const sink = new FailoverSink(backend, {
    group: 'g', sink: 's', rescueDir: path.join(dir, 'rescue'), durability: 'none', flushMs: 10,
    reconnect: { initial_ms: 60_000, max_ms: 60_000, jitter: 0 }, clock, random: () => 0.5,
  });
  const rescued = (): number[] => {
    const g = path.join(dir, 'rescue', 'g');
    let names: string[];
    try {
      names = readdirSync(g).filter((n) => n.endsWith('.dat') || n.endsWith('.dat.lock')).sort();
    } catch {
      return [];
    }
    return names.flatMap((n) => readFileSync(path.join(g, n), 'utf8').split('\n').filter(Boolean).map((l) => {
      const d = decodeRescueLine(l);
      if (!d.ok) throw new Error(d.reason);
      return (d.entry.record as { n: number }).n;
    }));
  };
  return { sink, backend, clock, rescued };
}

/** Tracks whether a promise settled (and how). */
function watch(p: Promise<void> | undefined): { state: () => string } {
  let state = p ? 'waiting' : 'none';
  p?.then(() => (state = 'confirmed'), (e: unknown) => (state = `failed: ${String(e)}`));
  return { state: () => state };
}

describe('writes a backend cannot vouch for yet (TCP): the commit waits for confirmation, the reader does not', () => {
  it('a write is durable at once but confirmed only when the backend vouches for it, in order', async () => {
    const { sink, backend } = setup();
    await sink.open();
    const a = await sink.write(range(0, 10));
    const b = await sink.write(range(10, 20));
    await a.durable;
    const ca = watch(a.confirmed);
    const cb = watch(b.confirmed);
    await turn();
    expect([ca.state(), cb.state()]).toEqual(['waiting', 'waiting']);
    backend.vouch(10); // more bytes written behind the first batch, as TCP's window confirms it
    await sink.write(range(20, 21));
    await turn();
    expect([ca.state(), cb.state()]).toEqual(['confirmed', 'waiting']);
  });

  it('a pause in writes measures once; a write a remote peer leaves unconfirmed for confirmMs is flushed once writes pause', async () => {
    const { sink, backend, clock } = setup();
    await sink.open();
    const a = watch((await sink.write(range(0, 10))).confirmed);
    clock.advance(CONFIRM_IDLE_MS - 1);
    await sink.settled();
    expect(backend.measures).toBe(0);
    clock.advance(1);
    await sink.settled();
    expect([backend.measures, backend.flushes, a.state()]).toEqual([1, 0, 'waiting']);
    // a local peer that read it all: the next pause's measurement confirms
    backend.measurable = 10;
    const b = watch((await sink.write(range(10, 20))).confirmed);
    clock.advance(CONFIRM_IDLE_MS);
    await sink.settled();
    await turn();
    expect([backend.measures, a.state(), b.state()]).toEqual([2, 'confirmed', 'waiting']);
    // no measurement again without a new write, until confirmMs after the last one: then the flush
    expect(clock.nextDue()).toBe(clock.now() + 1000);
    clock.advance(1000);
    await sink.settled();
    await turn();
    expect([backend.measures, backend.flushes, b.state()]).toEqual([3, 1, 'confirmed']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a steady trickle to a remote peer puts the flush off at most CONFIRM_MAX_FACTOR × confirmMs', async () => {
    const { sink, backend, clock } = setup();
    await sink.open();
    const t0 = clock.now();
    const first = watch((await sink.write(range(0, 1))).confirmed);
    const flushesAt: number[] = [];
    for (let i = 1; i <= 220; i++) {
      clock.advance(CONFIRM_IDLE_MS / 2); // a write every 50 ms: never a pause
      await sink.settled();
      if (backend.flushes > flushesAt.length) flushesAt.push(clock.now() - t0);
      await sink.write(range(i, i + 1));
    }
    await sink.settled();
    await turn();
    expect([flushesAt, first.state()]).toEqual([[CONFIRM_MAX_FACTOR * 1000], 'confirmed']);
    expect(backend.measures).toBeGreaterThanOrEqual(9); // measured every confirmMs meanwhile
  });

  it('a peer the measurement sees (loopback) is only measured, every confirmMs, never flushed for age; confirmAll still flushes', async () => {
    const { sink, backend, clock } = setup();
    backend.seesAll = true;
    await sink.open();
    const a = watch((await sink.write(range(0, 10))).confirmed);
    for (let k = 0; k < 30; k++) {
      clock.advance(1000);
      await sink.settled();
    }
    expect([backend.flushes, backend.measures, a.state()]).toEqual([0, 30, 'waiting']); // at 0.1 s, then every 1 s
    backend.measurable = 4; // the slow peer read a little: confirmed by the next measurement
    clock.advance(1000);
    await sink.settled();
    expect([backend.window.length, backend.flushes]).toEqual([6, 0]);
    await sink.confirmAll();
    await turn();
    expect([backend.flushes, a.state()]).toEqual([1, 'confirmed']);
  });

  it('a reset hands the unconfirmed writes back: they are confirmed only by their rescue write, and every entry is in rescue', async () => {
    const { sink, backend, rescued } = setup();
    await sink.open();
    const a = watch((await sink.write(range(0, 10))).confirmed);
    const b = watch((await sink.write(range(10, 20))).confirmed);
    backend.vouch(5);
    backend.down = true;
    const c = await sink.write(range(20, 30));
    expect(c.confirmed).toBeUndefined();
    await c.durable;
    await turn();
    expect([a.state(), b.state()]).toEqual(['confirmed', 'confirmed']);
    expect(rescued()).toEqual(range(5, 30).map((e) => e.record!.n));
  });

  it('a flush that fails rescues the window; confirmAll flushes at once (end of input)', async () => {
    const { sink, backend, clock, rescued } = setup();
    await sink.open();
    const a = watch((await sink.write(range(0, 10))).confirmed);
    await sink.confirmAll();
    await turn();
    expect([backend.flushes, a.state()]).toEqual([1, 'confirmed']);
    const b = watch((await sink.write(range(10, 20))).confirmed);
    backend.down = true;
    clock.advance(1000);
    await sink.settled();
    await turn();
    expect([backend.flushes, b.state(), sink.onRescue]).toEqual([2, 'confirmed', true]);
    expect(rescued()).toEqual(range(10, 20).map((e) => e.record!.n));
    await sink.close();
  });

  it('a confirmation nobody awaits (the monitor group) does not become an unhandled rejection when its rescue write fails', async () => {
    const c = new Confirmations();
    expect(c.add(5, 0, 5)).toBeInstanceOf(Promise); // not awaited, as the monitor group's is not
    const failed = Promise.reject(new Error('rescue write failed'));
    failed.catch(() => undefined);
    c.handOver(failed);
    await turn(); // vitest fails the run on an unhandled rejection
    expect(c.size).toBe(0);
  });
});
