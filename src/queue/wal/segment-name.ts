/** WAL segment file names: `wal-<first seq, 16 digits>.log`, so lexical order is seq order. */
const RE = /^wal-(\d{16})\.log$/;

export function walName(firstSeq: number): string {
  return `wal-${String(firstSeq).padStart(16, '0')}.log`;
}

export function parseWalName(name: string): number | undefined {
  const m = RE.exec(name);
  return m ? Number(m[1]) : undefined;
}
