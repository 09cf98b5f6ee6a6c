import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { SinkSpec, WorkRoot } from '../config/work-root.js';
import { errnoCode } from '../errors.js';
import { realFs, type FsPort } from '../platform/fs-port.js';
import { tmpPathFor } from '../platform/atomic-write.js';
import type { SinkEntry } from '../record.js';
import { formatRescueName, formatRescueTime } from '../rescue/file-name.js';
import { encodeRescueBatch } from '../rescue/line-format.js';

export interface RejectedEntry {
  entry: SinkEntry;
  reason: string;
}

/**
 * Records a sink rejects during replay go to the `error` group with the reason, as they do in
 * `wparse` (SPEC section 3): the same `_sink` / `_error` fields, every sink of the group. The
 * replaying process does not fail over, so it does not write to an error sink directly (it may be
 * down too): each error sink gets a released rescue file, `<rescue.path>/error/<sink>-<time>-<seq>.dat`,
 * written tmp → fdatasync → link to a name no other file holds → fsync dir, before the replayed
 * file's checkpoint passes those records. `wprescue` then replays it into that sink like any other
 * rescue file (retries, dead, its own checkpoint). A kill between the link and the checkpoint sends
 * that batch's rejections twice, the bound of promise 2.
 * Returns the files written, or undefined when there is no error group to take them (the error
 * group's own rejections are not looped back into it): the caller keeps them under `dead/`.
 */
export async function rejectedToErrorGroup(
  wr: WorkRoot,
  rescueDir: string,
  spec: SinkSpec,
  rejected: readonly RejectedEntry[],
  now: number,
  fs: FsPort = realFs,
): Promise<string[] | undefined> {
  const sinks = spec.group === 'error' ? [] : (wr.groups.find((g) => g.name === 'error')?.sinks ?? []);
  if (sinks.length === 0) return undefined;
  const data = encodeRescueBatch(
    rejected.map(({ entry, reason }): SinkEntry => {
      const base = entry.kind === 'raw' ? { raw: entry.raw ?? '' } : (entry.record ?? {});
      return { id: entry.id, kind: 'record', record: { ...base, _sink: spec.key, _error: reason } };
    }),
  );
  const dir = path.join(rescueDir, 'error');
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const sink of sinks) files.push(await writeReleased(dir, sink.name, data, now, fs));
  await fs.syncDir(dir);
  return files;
}

/**
 * Seqs of the files replay writes start here. A `wparse` writer of the same error sink picks seq 0
 * and moves on only past clashes in one second, and its release renames over whatever holds its
 * name: in one shared range, a file linked between that writer's look and its open would be
 * replaced at its release. Apart, the two never meet.
 */
export const REPLAY_SEQ_BASE = 1_000_000;

/** Tells apart the temp files of calls in flight at once (replay workers share the process). */
let staged = 0;

/**
 * The next seq to try per `<dir>/<sink>` name second: a storm of rejections makes many files in
 * one second, and probing each from REPLAY_SEQ_BASE cost one lstat and one link per file before it
 * (quadratic: 1,000 files in one second took 63 s). Only the current second is kept.
 */
const nextSeq = new Map<string, { second: string; seq: number }>();

/**
 * A new `.dat` with `data`, never replacing a file: link fails on a taken name, and the seq moves
 * on. Its temp file is this call's own and goes whatever fails (a full disk keeps no half copy).
 */
async function writeReleased(dir: string, sink: string, data: Buffer, now: number, fs: FsPort): Promise<string> {
  const tmp = tmpPathFor(path.join(dir, `${sink}.rejected.${++staged}`));
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      await fs.write(fh, data);
      await fs.datasync(fh);
    } finally {
      await fh.close();
    }
    const key = path.join(dir, sink);
    const second = formatRescueTime(now);
    const known = nextSeq.get(key);
    for (let seq = known?.second === second ? known.seq : REPLAY_SEQ_BASE; ; seq++) {
      const file = path.join(dir, formatRescueName({ sink, time: now, seq, locked: false }));
      // a writer of wparse may be writing this name as .dat.lock: leave it to that writer
      if (existsSync(`${file}.lock`)) continue;
      try {
        await fsp.link(tmp, file);
        nextSeq.set(key, { second, seq: seq + 1 });
        return file;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
    }
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
