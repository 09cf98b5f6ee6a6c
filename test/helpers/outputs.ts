import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { decodeRescueLine } from '../../src/rescue/line-format.js';

/**
 * The complete (`\n`-terminated) lines of a file, [] if it is missing. A tail without its newline
 * is left out: a test polling a file that a daemon is appending to may catch a write half done.
 */
export function fileLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const t = readFileSync(file, 'utf8');
  const complete = t.slice(0, t.lastIndexOf('\n') + 1);
  return complete === '' ? [] : complete.slice(0, -1).split('\n');
}

/** The `n` field of every JSON line of a sink output. */
export function outputNs(file: string): number[] {
  return fileLines(file).map((l) => (JSON.parse(l) as { n: number }).n);
}

/**
 * Reads again when a file or directory vanished mid-read: a daemon may release a rescue file
 * (rename `.dat.lock` → `.dat`, remove its owner directory) between the listing and the read.
 */
function retryVanished<T>(read: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return read();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 20) throw err;
    }
  }
}

/** Every rescue file (.dat and .dat.lock) under dir, recursively. */
export function rescueFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return retryVanished(() => readdirSync(dir, { recursive: true }))
    .map(String)
    .filter((n) => /\.dat(\.lock)?$/.test(n) && !n.startsWith('dead'))
    .map((n) => path.join(dir, n));
}

/** The `n` of every record in rescue files; a torn last line (no newline) is allowed and skipped. */
export function rescueNs(dir: string): number[] {
  return retryVanished(() => rescueNsOnce(dir));
}

function rescueNsOnce(dir: string): number[] {
  const out: number[] = [];
  for (const f of rescueFilesIn(dir)) {
    const text = readFileSync(f, 'utf8');
    const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
    for (const l of complete.split('\n').filter(Boolean)) {
      const d = decodeRescueLine(l);
      if (!d.ok) throw new Error(`${f}: corrupt rescue line: ${d.reason}: ${l.slice(0, 80)}`);
      out.push(d.entry.record!.n as number);
    }
  }
  return out;
}

/** Loss and duplicates of `got` against the expected set of ns. */
export function compareNs(expected: Iterable<number>, got: number[]): { missing: number[]; duplicates: number } {
  const counts = new Map<number, number>();
  for (const n of got) counts.set(n, (counts.get(n) ?? 0) + 1);
  const missing = [...expected].filter((n) => !counts.has(n));
  let duplicates = 0;
  for (const c of counts.values()) duplicates += c - 1;
  return { missing, duplicates };
}
