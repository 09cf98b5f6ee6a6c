import { copyFileSync, writeFileSync } from 'node:fs';
import { listSegments, scanSegment } from './decoder.js';
import { encodeEvent } from './format.js';

export interface RepairReport {
  segments: number;
  repaired: Array<{ file: string; backup: string; droppedLines: number; droppedTornBytes: number }>;
}

/**
 * `wprescue queue repair`: every segment with bad lines or a torn tail is copied to `<file>.broken`
 * first, then rewritten with only its valid records. Corruption costs exactly the damaged lines.
 */
export function repairWal(dir: string): RepairReport {
  const segs = listSegments(dir);
  const report: RepairReport = { segments: segs.length, repaired: [] };
  for (const { file, firstSeq } of segs) {
    const scan = scanSegment(file, firstSeq);
    if (scan.bad.length === 0 && scan.tornBytes === 0) continue;
    const backup = `${file}.broken`;
    copyFileSync(file, backup);
    writeFileSync(file, scan.events.map(encodeEvent).join(''));
    report.repaired.push({ file, backup, droppedLines: scan.bad.length, droppedTornBytes: scan.tornBytes });
  }
  return report;
}
