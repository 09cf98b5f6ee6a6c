import { writeFileSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RescueBudget } from '../../src/rescue/budget.js';
import { ManualClock } from '../../src/platform/clock.js';
import { tmpDir } from '../helpers/tmp.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('RescueBudget', () => {
  it('measures the directory, waits for room with a tenth of the cap to spare, first come first served', async () => {
    const dir = tmpDir();
    mkdirSync(path.join(dir, 'g'));
    writeFileSync(path.join(dir, 'g', 'a.dat'), Buffer.alloc(600));
    writeFileSync(path.join(dir, 'recover.lock'), Buffer.alloc(100));
    const clock = new ManualClock();
    const seen: number[] = [];
    const b = new RescueBudget({ dir, maxBytes: 1000, whenFull: 'block', clock, scanMs: 1000, onBytes: (n) => seen.push(n) });
    b.start();
    expect(b.bytes).toBe(700);
    expect(b.fits(300)).toBe(true);
    expect(b.fits(301)).toBe(false);
    b.add(250);
    expect(b.bytes).toBe(950);
    let first = false;
    let second = false;
    void b.whenSpace(200).then((r) => (first = r));
    void b.whenSpace(100).then((r) => (second = r));
    rmSync(path.join(dir, 'recover.lock'));
    clock.advance(1000); // 600 on disk now: 600 + 200 = 800 <= 900, then 800 + 100 = 900 <= 900
    await flush();
    expect([first, second]).toEqual([true, true]);
    expect(b.bytes).toBe(900);
    expect(seen).toContain(600);
    b.stop();
  });

  it('a graceful stop releases a blocked wait without a reservation; no cap fits everything', async () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'x'), Buffer.alloc(1000));
    const ac = new AbortController();
    const b = new RescueBudget({ dir, maxBytes: 1000, whenFull: 'block', clock: new ManualClock(), signal: ac.signal });
    b.start();
    const wait = b.whenSpace(10);
    ac.abort();
    expect(await wait).toBe(false);
    b.stop();
    const free = new RescueBudget({ dir, maxBytes: 0, whenFull: 'block', clock: new ManualClock() });
    free.start();
    expect(free.fits(1e12)).toBe(true);
    free.stop();
  });
});
