import { copyFileSync, existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { syncDirSync, writeFileAtomicSync } from '../../platform/atomic-write.js';
import { loadSnapshot, SNAPSHOT_BACKUP, SNAPSHOT_FILE } from '../snapshot.js';
import { listSegments, scanSegment } from './decoder.js';
import { encodeEvent } from './format.js';
import { damagedWalName } from './segment-name.js';

export interface RepairReport {
  segments: number;
  repaired: Array<{ file: string; backup: string; droppedLines: number; droppedTornBytes: number }>;
  /**
   * The state could not be rebuilt (no readable snapshot reaches the WAL's first event): every
   * snapshot and segment was renamed `<name>.damaged-<ms>`, and the next start rebuilds the queue
   * from the rescue directory (replay positions live in recover.lock, not here).
   */
  reset?: { reason: string; setAside: string[] };
}

/**
 * `wprescue queue repair`, for an operator who wants to look before the queue starts (start-up
 * itself sets a damaged segment aside and goes on, see store.ts): every segment with bad lines or
 * a torn tail is copied to `<file>.broken` first, then replaced atomically (tmp → fsync → rename →
 * fsync dir) by its valid records, so a crash mid-repair leaves either the old or the new segment,
 * never half of one. Corruption costs exactly the damaged lines.
 */
export function repairWal(dir: string, now = Date.now()): RepairReport {
  const segs = listSegments(dir);
  const report: RepairReport = { segments: segs.length, repaired: [] };
  const { snapshot, source, corrupt } = loadSnapshot(dir);
  const firstSeq = segs[0]?.firstSeq;
  if (firstSeq !== undefined && firstSeq > snapshot.lastSeq + 1) {
    // the state start-up refuses (SNAPSHOT_CORRUPT): set it aside whole, keep nothing half-known
    const reason = `${source === 'none' ? 'no readable snapshot' : `the ${source} snapshot covers up to seq ${snapshot.lastSeq}`}${corrupt.length ? ` (unreadable: ${corrupt.map((f) => path.basename(f)).join(', ')})` : ''} but the WAL starts at seq ${firstSeq}`;
    const setAside: string[] = [];
    for (const file of [...segs.map((x) => x.file), ...[SNAPSHOT_FILE, SNAPSHOT_BACKUP].map((n) => path.join(dir, n)).filter((f) => existsSync(f))]) {
      const to = path.join(dir, damagedWalName(path.basename(file), now));
      renameSync(file, to);
      setAside.push(to);
    }
    syncDirSync(dir);
    return { ...report, reset: { reason, setAside } };
  }
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
