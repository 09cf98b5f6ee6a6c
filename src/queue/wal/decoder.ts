import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../errors.js';
import type { QueueEvent } from '../job-state.js';
import { decodeEvent } from './format.js';
import { parseDamagedWalName, parseWalName } from './segment-name.js';

/**
 * Reads WAL segments and tells a torn last write from real corruption. Appends only ever resolve
 * after a whole line including its `\n` is written, so bytes after the last `\n` of a segment are a
 * torn write that was never acknowledged: safe to cut. A complete line that fails its CRC or does
 * not parse is corruption, listed in `bad` with its byte offset and read past: start-up sets the
 * segment aside and goes on without that line (store.ts); `wprescue queue repair` drops it.
 */
export interface SegmentScan {
  file: string;
  firstSeq: number;
  events: QueueEvent[];
  /** Byte length of the segment up to the end of its last complete line. */
  validBytes: number;
  totalBytes: number;
  /** Bytes after the last newline (a torn write), if any. */
  tornBytes: number;
  /** Complete lines that failed: byte offset and why. */
  bad: Array<{ offset: number; reason: string }>;
}

export function listSegments(dir: string): Array<{ file: string; firstSeq: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: Array<{ file: string; firstSeq: number }> = [];
  for (const name of names) {
    const firstSeq = parseWalName(name);
    if (firstSeq !== undefined) out.push({ file: path.join(dir, name), firstSeq });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

export function scanSegment(file: string, firstSeq: number): SegmentScan {
  const buf = readFileSync(file);
  const scan: SegmentScan = { file, firstSeq, events: [], validBytes: 0, totalBytes: buf.length, tornBytes: 0, bad: [] };
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    if (nl > start) {
      const res = decodeEvent(buf.toString('utf8', start, nl));
      if (res.ok) scan.events.push(res.event);
      else scan.bad.push({ offset: start, reason: res.reason === 'crc' ? 'CRC mismatch' : `invalid record (${res.reason})` });
    }
    start = nl + 1;
  }
  scan.validBytes = start;
  scan.tornBytes = buf.length - start;
  return scan;
}

/**
 * The seq past every event of the segments set aside as `*.damaged-<ms>` (0 without any). A state
 * `wprescue queue repair` set aside whole leaves no snapshot and no segment; a start over it goes
 * on from here, so seqs never reset (SPEC section 6). A line that does not decode still took a seq.
 */
export function setAsideSeqBound(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
  let bound = 0;
  for (const name of names) {
    const d = parseDamagedWalName(name);
    if (!d) continue;
    const scan = scanSegment(path.join(dir, name), d.firstSeq);
    const maxSeq = scan.events.reduce((m, e) => Math.max(m, e.seq), 0);
    bound = Math.max(bound, d.firstSeq + scan.events.length + scan.bad.length, maxSeq + 1 + scan.bad.length);
  }
  return bound;
}
