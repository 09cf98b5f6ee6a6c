/**
 * WAL segment file names: `wal-<first seq, 16 digits>.log`, so lexical order is seq order. A
 * damaged segment set aside at start-up is copied to `<segment name>.damaged-<ms since epoch>`,
 * which never parses as a segment, so it is never read again.
 */
const RE = /^wal-(\d{16})\.log$/;
const DAMAGED_RE = /^(wal-(\d{16})\.log)\.damaged-(\d+)$/;

export function walName(firstSeq: number): string {
  return `wal-${String(firstSeq).padStart(16, '0')}.log`;
}

export function parseWalName(name: string): number | undefined {
  const m = RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function damagedWalName(segmentName: string, at: number): string {
  return `${segmentName}.damaged-${at}`;
}

export function parseDamagedWalName(name: string): { segment: string; firstSeq: number; at: number } | undefined {
  const m = DAMAGED_RE.exec(name);
  return m ? { segment: m[1]!, firstSeq: Number(m[2]), at: Number(m[3]) } : undefined;
}
