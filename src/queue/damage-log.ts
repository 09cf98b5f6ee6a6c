import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../platform/atomic-write.js';
import type { FsPort } from '../platform/fs-port.js';
import { damagedWalName } from './wal/segment-name.js';

/**
 * Damage record (`damage.json` in queue.dir): what start-up found and set aside, for
 * `wprescue status`, since the damaged segment itself is gone from the WAL once the rebuilt state
 * is snapshotted.
 *
 *   {"version":1,"entries":[{"segment":"wal-…log","keptAs":"wal-…log.damaged-<ms>","at":<ms>,
 *     "records":[{"offset":<byte>,"reason":"CRC mismatch"}],"skippedEvents":<n>}]}
 *
 * Names are relative to queue.dir. `keptAs` holds the segment's original bytes. An entry is
 * reported while its kept copy exists: deleting the copy after looking at it acknowledges it.
 * Replaced atomically; the newest MAX_DAMAGE_ENTRIES entries are kept. An unreadable record reads
 * as empty: it is a report, the queue state never depends on it.
 */
export const DAMAGE_FILE = 'damage.json';
export const MAX_DAMAGE_ENTRIES = 100;

export interface DamagedRecord {
  offset: number;
  reason: string;
}

export interface DamageEntry {
  segment: string;
  keptAs: string;
  at: number;
  records: DamagedRecord[];
  skippedEvents: number;
}

export function readDamageLog(dir: string): DamageEntry[] {
  const file = path.join(dir, DAMAGE_FILE);
  if (!existsSync(file)) return [];
  try {
    const obj = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; entries?: unknown };
    return obj.version === 1 && Array.isArray(obj.entries) ? (obj.entries as DamageEntry[]) : [];
  } catch {
    return [];
  }
}

/** Entries whose kept copy is still there (not yet acknowledged by deleting it). */
export function openDamage(dir: string): DamageEntry[] {
  return readDamageLog(dir).filter((e) => existsSync(path.join(dir, e.keptAs)));
}

const sameDamage = (e: DamageEntry, segment: string, records: DamagedRecord[]): boolean =>
  e.segment === segment && e.records.length === records.length && e.records.every((r, i) => r.offset === records[i]!.offset);

/**
 * Copies each damaged segment aside (original bytes) and records it. A segment already recorded
 * with the same damaged offsets (a crash came before the rebuilt state was snapshotted) keeps its
 * first entry and copy, so one damage is reported once.
 */
export async function recordDamage(
  dir: string,
  found: Array<{ file: string; records: DamagedRecord[] }>,
  o: { at: number; skippedEvents: number; fs: FsPort; durable: boolean },
): Promise<DamageEntry[]> {
  const log = readDamageLog(dir);
  const out: DamageEntry[] = [];
  for (const { file, records } of found) {
    const segment = path.basename(file);
    const known = log.find((e) => sameDamage(e, segment, records) && existsSync(path.join(dir, e.keptAs)));
    if (known) {
      out.push(known);
      continue;
    }
    const keptAs = damagedWalName(segment, o.at);
    copyFileSync(file, path.join(dir, keptAs));
    if (o.durable) syncFile(path.join(dir, keptAs)); // the segment itself is deleted once the state is snapshotted
    const entry: DamageEntry = { segment, keptAs, at: o.at, records, skippedEvents: o.skippedEvents };
    log.push(entry);
    out.push(entry);
  }
  const body = JSON.stringify({ version: 1, entries: log.slice(-MAX_DAMAGE_ENTRIES) });
  await writeFileAtomic(path.join(dir, DAMAGE_FILE), `${body}\n`, { fs: o.fs, durable: o.durable });
  return out;
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
