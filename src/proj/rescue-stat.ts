import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RecoverCheckpoint } from '../recovery/checkpoint.js';
import { parseRescueJobId } from '../rescue/file-name.js';
import { errnoCode } from '../errors.js';
import { countLines } from './line-count.js';
import { classify, rescueLayout } from '../rescue/layout.js';

/**
 * `wproj rescue stat`: the rescue backlog by `<group>/<sink>`, from the configured rescue.path:
 * what is left to replay, so a file part-way through replay counts only the lines and bytes after
 * its `recover.lock` checkpoint.
 */
export interface RescueFileStat {
  path: string;
  sink: string;
  /** Lines and bytes left to replay (after `replayedBytes`). */
  lines: number;
  bytes: number;
  /** Bytes already replayed (the file's recover.lock offset; 0 if none). */
  replayedBytes: number;
  mtime: string;
}

export interface RescueStat {
  rescuePath: string;
  totalFiles: number;
  totalLines: number;
  totalBytes: number;
  oldestAgeSec: number | null;
  bySink: Record<string, { files: number; lines: number; bytes: number }>;
  files: RescueFileStat[];
  /** Files still being written (or left by a dead writer, to be salvaged). */
  locked: RescueFileStat[];
  /** Quarantined files under dead/. */
  dead: number;
}

export function rescueStat(rescuePath: string, now = Date.now()): RescueStat {
  const out: RescueStat = { rescuePath, totalFiles: 0, totalLines: 0, totalBytes: 0, oldestAgeSec: null, bySink: {}, files: [], locked: [], dead: 0 };
  if (!existsSync(rescuePath)) return out;
  let oldest = Infinity;
  const progress = RecoverCheckpoint.read(rescueLayout(rescuePath).recoverLock);
  const walk = (dir: string, rel: string): void => {
    for (const name of listing(dir)) {
      if (name.startsWith('.') || name.endsWith('.owner')) continue;
      const full = path.join(dir, name);
      const id = rel ? `${rel}/${name}` : name;
      let st;
      try {
        st = statSync(full);
      } catch {
        continue; // a dangling link or a link loop: nothing wprescue would replay either
      }
      if (st.isDirectory()) {
        if (lstatSync(full, { throwIfNoEntry: false })?.isSymbolicLink() !== false) continue; // as wprescue: a linked directory is not walked (a link back to the root looped); or it is gone
        if (classify(rel ? `${rel}/${name}` : name) === 'dead-dir') out.dead = listing(full, true).filter((n) => n.endsWith('.dat')).length;
        else walk(full, id);
        continue;
      }
      const isDat = name.endsWith('.dat');
      if (!isDat && !name.endsWith('.dat.lock')) continue;
      if (!st.isFile()) continue; // a FIFO or device under a rescue name: reading it would block for good (wprescue quarantines it)
      const parsed = parseRescueJobId(isDat ? id : id.slice(0, -'.lock'.length));
      const sink = parsed ? `${parsed.group}/${parsed.name.sink}` : '?';
      const done = isDat ? Math.min(progress[id]?.offset ?? 0, st.size) : 0;
      const counted = countLines(full, done);
      if (counted.missing) continue; // replayed and deleted, or released (renamed), since its stat: not waiting under this name
      const f: RescueFileStat = { path: full, sink, lines: counted.lines, bytes: st.size - done, replayedBytes: done, mtime: st.mtime.toISOString() };
      if (!isDat) {
        out.locked.push(f);
        continue;
      }
      out.files.push(f);
      out.totalFiles++;
      out.totalLines += f.lines;
      out.totalBytes += f.bytes;
      const b = (out.bySink[sink] ??= { files: 0, lines: 0, bytes: 0 });
      b.files++;
      b.lines += f.lines;
      b.bytes += f.bytes;
      oldest = Math.min(oldest, parsed?.name.time ?? st.mtimeMs);
    }
  };
  walk(rescuePath, '');
  out.oldestAgeSec = Number.isFinite(oldest) ? Math.round((now - oldest) / 1000) : null;
  return out;
}

/**
 * A directory's entries, sorted; none when it went away since it was found (an operator's `rm -rf`
 * of a group or of dead/ beside `wproj rescue stat`): thrown, that was an internal error.
 */
function listing(dir: string, recursive = false): string[] {
  try {
    return readdirSync(dir, { recursive }).map(String).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}
