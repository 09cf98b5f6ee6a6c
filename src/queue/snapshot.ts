import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../platform/atomic-write.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import type { Job } from './job-state.js';

/**
 * Snapshot format (`snapshot.json`): `{"schemaVer":1,"lastSeq":N,"jobs":[...],"crc":C}` where C is
 * the CRC32 of the same JSON without its crc. Written tmp → fsync → rename; the previous snapshot
 * is kept as `snapshot.bak.json` and used when the current one is missing or fails its CRC.
 * `jobs` holds every pending, in-flight and dead job but only the last `queue.completed_history`
 * completed ones, those in the order they completed (completed-history.ts), so its size follows
 * the work in hand, not the number of files ever replayed.
 */
export const SNAPSHOT_FILE = 'snapshot.json';
export const SNAPSHOT_BACKUP = 'snapshot.bak.json';

export interface Snapshot {
  lastSeq: number;
  jobs: Job[];
}

function body(s: Snapshot): string {
  return `{"schemaVer":1,"lastSeq":${s.lastSeq},"jobs":${JSON.stringify(s.jobs)}`;
}

export function encodeSnapshot(s: Snapshot): string {
  const b = body(s);
  return `${b},"crc":${crc32(`${b}}`)}}\n`;
}

export function decodeSnapshot(text: string): Snapshot | undefined {
  try {
    const obj = JSON.parse(text) as { schemaVer?: unknown; lastSeq?: unknown; jobs?: unknown; crc?: unknown };
    if (obj.schemaVer !== 1 || typeof obj.lastSeq !== 'number' || !Array.isArray(obj.jobs)) return undefined;
    const snap: Snapshot = { lastSeq: obj.lastSeq, jobs: obj.jobs as Job[] };
    return crc32(`${body(snap)}}`) === obj.crc ? snap : undefined;
  } catch {
    return undefined;
  }
}

export async function writeSnapshot(dir: string, snap: Snapshot, opts: { fs?: FsPort; durable?: boolean } = {}): Promise<void> {
  const fs = opts.fs ?? realFs;
  const main = path.join(dir, SNAPSHOT_FILE);
  // Only a readable snapshot may become the backup; an unreadable one is kept aside as .broken.
  if (existsSync(main)) await fs.rename(main, path.join(dir, decodeSnapshot(readFileSync(main, 'utf8')) ? SNAPSHOT_BACKUP : `${SNAPSHOT_FILE}.broken`));
  await writeFileAtomic(main, encodeSnapshot(snap), { fs, durable: opts.durable ?? true });
}

export type SnapshotSource = 'main' | 'backup' | 'none';

/** Loads the newest readable snapshot; `corrupt` lists files that were present but unreadable. */
export function loadSnapshot(dir: string): { snapshot: Snapshot; source: SnapshotSource; corrupt: string[] } {
  const corrupt: string[] = [];
  for (const [name, source] of [
    [SNAPSHOT_FILE, 'main'],
    [SNAPSHOT_BACKUP, 'backup'],
  ] as const) {
    const file = path.join(dir, name);
    if (!existsSync(file)) continue;
    const snap = decodeSnapshot(readFileSync(file, 'utf8'));
    if (snap) return { snapshot: snap, source, corrupt };
    corrupt.push(file);
  }
  return { snapshot: { lastSeq: 0, jobs: [] }, source: 'none', corrupt };
}
