import { copyFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../platform/atomic-write.js';
import { listSegments, scanSegment } from './decoder.js';
import { encodeEvent } from './format.js';

export interface RepairReport {
  segments: number;
  repaired: Array<{ file: string; backup: string; droppedLines: number; droppedTornBytes: number }>;
}

/**
 * `wprescue queue repair`, for an operator who wants to look before the queue starts (start-up
 * itself sets a damaged segment aside and goes on, see store.ts): every segment with bad lines or
 * a torn tail is copied to `<file>.broken` first, then replaced atomically (tmp → fsync → rename →
 * fsync dir) by its valid records, so a crash mid-repair leaves either the old or the new segment,
 * never half of one. Corruption costs exactly the damaged lines.
 */
export function repairWal(dir: string): RepairReport {
  const segs = listSegments(dir);
  const report: RepairReport = { segments: segs.length, repaired: [] };
  for (const { file, firstSeq } of segs) {
    const scan = scanSegment(file, firstSeq);
    if (scan.bad.length === 0 && scan.tornBytes === 0) continue;
    const backup = `${file}.broken`;
    copyFileSync(file, backup);
    writeFileAtomicSync(file, scan.events.map(encodeEvent).join(''), true);
    report.repaired.push({ file, backup, droppedLines: scan.bad.length, droppedTornBytes: scan.tornBytes });
  }
  return report;
}
