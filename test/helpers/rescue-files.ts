import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatRescueName } from '../../src/rescue/file-name.js';
import { encodeRescueLine } from '../../src/rescue/line-format.js';

/** Writes a released rescue file of records {n} for ns at `<rescue>/<group>/<sink>-<time>-<seq>.dat`. */
export function writeRescueFile(rescueDir: string, group: string, sink: string, timeMs: number, seq: number, ns: number[], opts: { locked?: boolean; extra?: string } = {}): string {
  const file = path.join(rescueDir, group, formatRescueName({ sink, time: timeMs, seq, locked: opts.locked ?? false }));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, ns.map((n) => encodeRescueLine({ id: `src:${n}`, kind: 'record', record: { n } })).join('') + (opts.extra ?? ''));
  return file;
}

export const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
