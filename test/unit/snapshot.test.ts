import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot } from '../../src/queue/snapshot.js';

const golden = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'snapshot-golden.json'), 'utf8');

describe('queue snapshot format', () => {
  it('decodes the golden file and encodes it back byte for byte (a format change is a visible diff)', () => {
    const snap = decodeSnapshot(golden);
    expect(snap?.lastSeq).toBe(42);
    expect(snap?.jobs.map((j) => [j.id, j.state])).toEqual([
      ['app/main-2026-11-22_10:00:00-0.dat', 'pending'],
      ['app/main-2026-11-22_10:00:01-0.dat', 'dead'],
      ['b/s-1-2026-11-22_09:59:59-3.dat', 'completed'],
    ]);
    expect(encodeSnapshot(snap!)).toBe(golden);
  });

  it('refuses a snapshot whose bytes no longer match its CRC, at any flipped byte', () => {
    for (let i = 0; i < golden.length - 1; i += 7) {
      const bad = golden.slice(0, i) + String.fromCharCode(golden.charCodeAt(i) ^ 1) + golden.slice(i + 1);
      expect(decodeSnapshot(bad), `byte ${i}`).toBeUndefined();
    }
  });
});
