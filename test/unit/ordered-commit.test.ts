import { describe, expect, it } from 'vitest';
import { OrderedCommit } from '../../src/pipeline/ordered-commit.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OrderedCommit', () => {
  it('commits in push order even when later batches become durable first', async () => {
    const c = new OrderedCommit();
    const order: number[] = [];
    const d = [deferred(), deferred(), deferred()];
    d.forEach((x, i) => c.push(x.promise, () => order.push(i)));
    d[2]!.resolve();
    d[1]!.resolve();
    await flush();
    expect(order).toEqual([]);
    expect(c.pending).toBe(3);
    d[0]!.resolve();
    await c.whenCommitted();
    expect(order).toEqual([0, 1, 2]);
  });

  it('whenAtMost(n) waits until no more than n batches are uncommitted', async () => {
    const c = new OrderedCommit();
    const a = deferred();
    const b = deferred();
    c.push(a.promise, () => {});
    c.push(b.promise, () => {});
    let released = false;
    const wait = c.whenAtMost(1).then(() => (released = true));
    await flush();
    expect(released).toBe(false);
    a.resolve();
    await wait;
    expect(c.pending).toBe(1);
  });

  it('a durability failure is rethrown and nothing after it is committed', async () => {
    const c = new OrderedCommit();
    const order: number[] = [];
    const a = deferred();
    const b = deferred();
    c.push(a.promise, () => order.push(0));
    c.push(b.promise, () => order.push(1));
    b.resolve();
    a.reject(new Error('rescue write failed'));
    await expect(c.whenCommitted()).rejects.toThrow('rescue write failed');
    expect(order).toEqual([]);
  });

  it('whenYoungerThan(ms) waits until no uncommitted batch was read ms or more ago', async () => {
    const c = new OrderedCommit();
    let now = 0;
    const a = deferred();
    const b = deferred();
    c.push(a.promise, () => {}, 0);
    now = 60;
    c.push(b.promise, () => {}, 60);
    await c.whenYoungerThan(100, () => now); // oldest is 60 ms old: go on
    now = 100;
    let released = false;
    const wait = c.whenYoungerThan(100, () => now).then(() => (released = true));
    await flush();
    expect(released).toBe(false);
    a.resolve(); // the oldest commits; the next is 40 ms old
    await wait;
    expect(c.pending).toBe(1);
  });

  it('a batch durable but not confirmed lets the reader go on and holds the commit; a failed confirmation fails it', async () => {
    const c = new OrderedCommit();
    const order: number[] = [];
    const confirmA = deferred();
    c.push(Promise.resolve(), () => order.push(0), 0, confirmA.promise);
    c.push(Promise.resolve(), () => order.push(1));
    await c.whenAtMost(0); // the reader's backpressure sees both durable
    await flush();
    expect([order, c.pending]).toEqual([[], 2]);
    confirmA.resolve();
    await c.whenCommitted();
    expect(order).toEqual([0, 1]);
    const bad = new OrderedCommit();
    bad.push(Promise.resolve(), () => order.push(2), 0, Promise.reject(new Error('rescue write failed')));
    await expect(bad.whenCommitted()).rejects.toThrow('rescue write failed');
    expect(order).toEqual([0, 1]);
  });
});
