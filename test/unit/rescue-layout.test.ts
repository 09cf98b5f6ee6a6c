import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRescueName, parseRescueJobId, parseRescueName, rescueRank } from '../../src/rescue/file-name.js';
import { classify, rescueLayout } from '../../src/rescue/layout.js';

describe('rescue file names', () => {
  it('format and parse round-trip for any valid sink name, time and seq', () => {
    const sink = fc.stringMatching(/^[A-Za-z0-9_[\]-][A-Za-z0-9_.[\]-]{0,20}$/).filter((s) => !s.includes('..'));
    fc.assert(
      fc.property(sink, fc.integer({ min: 0, max: 4102444799 }), fc.integer({ min: 0, max: 999_999_999 }), fc.boolean(), (s, sec, seq, locked) => {
        const n = { sink: s, time: sec * 1000, seq, locked };
        expect(parseRescueName(formatRescueName(n))).toEqual(n);
      }),
    );
  });

  it('parses from the right, so sink names may contain "-"', () => {
    expect(parseRescueName('my-sink-2-2026-11-22_14:51:56-3.dat')).toEqual({ sink: 'my-sink-2', time: Date.UTC(2026, 10, 22, 14, 51, 56), seq: 3, locked: false });
  });

  it.each([
    ['a month 13', 'app-2026-13-22_14:51:56-0.dat'],
    ['a 25th hour', 'app-2026-11-22_25:00:00-0.dat'],
    ['no seq', 'app-2026-11-22_14:51:56.dat'],
    ['a temp file', '.app-2026-11-22_14:51:56-0.dat.123.tmp'],
    ['an owner lock', 'app-2026-11-22_14:51:56-0.dat.lock.owner'],
    ['a broken copy', 'app-2026-11-22_14:51:56-0.dat.broken'],
    ['a sink named ..', '..-2026-11-22_14:51:56-0.dat'],
  ])('never guesses at %s', (_, name) => {
    expect(parseRescueName(name)).toBeUndefined();
  });

  it('job ids are <group>/<file>.dat; ".." and locked files are not jobs', () => {
    expect(parseRescueJobId('g/s-2026-11-22_14:51:56-0.dat')?.group).toBe('g');
    expect(parseRescueJobId('a/b/s-2026-11-22_14:51:56-0.dat')?.group).toBe('a/b');
    expect(parseRescueJobId('../s-2026-11-22_14:51:56-0.dat')).toBeUndefined();
    expect(parseRescueJobId('g/s-2026-11-22_14:51:56-0.dat.lock')).toBeUndefined();
    expect(parseRescueJobId('s-2026-11-22_14:51:56-0.dat')).toBeUndefined();
  });

  it('rank orders by time, then seq, as strings', () => {
    const names = ['s-2026-11-22_14:51:56-10.dat', 's-2026-11-22_14:51:56-9.dat', 's-2026-11-21_23:59:59-0.dat'].map((n) => parseRescueName(n)!);
    expect(names.map(rescueRank).sort()).toEqual([rescueRank(names[2]!), rescueRank(names[1]!), rescueRank(names[0]!)]);
  });
});

describe('rescue directory layout', () => {
  const l = rescueLayout('/r');

  it('names every file it owns from the job id', () => {
    const id = 'g/sub/s-2026-11-22_14:51:56-0.dat';
    expect(l.jobFile(id)).toBe(path.join('/r', 'g', 'sub', 's-2026-11-22_14:51:56-0.dat'));
    expect(l.deadFile(id)).toBe(path.join('/r', 'dead', 'g', 'sub', 's-2026-11-22_14:51:56-0.dat'));
    expect(l.reasonFile(id)).toBe(`${l.deadFile(id)}.reason`);
    expect(l.badLinesFile(id)).toBe(`${l.deadFile(id)}.bad.jsonl`);
    expect(l.rejectedFile(id)).toBe(`${l.deadFile(id)}.rejected.jsonl`);
    expect(l.recoverLock).toBe(path.join('/r', 'recover.lock'));
    expect(l.jobIdOf(l.jobFile(id))).toBe(id);
    expect(l.jobIdOf('/elsewhere/x.dat')).toBeUndefined();
  });

  it.each([
    ['g/s-2026-11-22_14:51:56-0.dat', 'job'],
    ['g/garbage.dat', 'job'],
    ['g/s-2026-11-22_14:51:56-0.dat.lock', 'writing'],
    ['g/s-2026-11-22_14:51:56-0.dat.lock.owner', 'owner'],
    ['g/s-2026-11-22_14:51:56-0.dat.lock.owner/pid', 'owner'],
    ['g/s-2026-11-22_14:51:56-0.dat.lock.owner.pid', 'owner'],
    ['dead', 'dead-dir'],
    ['recover.lock', 'recover-lock'],
    ['.wprescue.lock', 'dir-lock'],
    ['.wprescue.pid', 'dir-lock'],
    ['.recover.lock.42.tmp', 'temp'],
    ['g/notes.txt', 'foreign'],
    ['g/x.dat.lock', 'foreign'],
    ['g/dead', 'foreign'],
  ])('classifies %s as %s', (rel, kind) => {
    expect(classify(rel)).toBe(kind);
  });
});
