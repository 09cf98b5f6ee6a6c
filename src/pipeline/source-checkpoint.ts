import { closeSync, mkdirSync, openSync, promises as fsp, writeSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { writeFileAtomicSync } from '../platform/atomic-write.js';

/**
 * A file source's progress: `data/.run/sources/<key>.ckpt`, one fixed-width line (a "slot") per
 * input file it has read, golden file `test/fixtures/source-checkpoint-v3.ckpt`:
 *
 *   {"v":3,"fp":"<16 hex>","head":"<16 hex>","tail":"<16 hex>","dev":D,"ino":I,"gen":G,"offset":O,"msize":S,"mtime":M}\n
 *
 * every number zero-padded to 20 digits, so each slot is rewritten in place with one pwrite at
 * `slot × SLOT_WIDTH` (no rename: cheap enough after every batch). Fields:
 * - `head`: hash of the file's first line (at most its first 256 bytes), `dev`/`ino`: its device
 *   and inode; the three together tell the same file (renamed or not) from a new one;
 * - `gen`: bumped when the same file is truncated or rewritten in place with the same first line;
 * - `fp`: hash of head, dev, ino and gen: the file's fingerprint, part of its record ids;
 * - `offset`: just past the last line every sink holds durably (the only thing a restart trusts);
 * - `tail`: hash of the (at most TAIL_BYTES) bytes just before `offset`, so a file rewritten in place
 *   while nothing read it, keeping its first line and growing past `offset`, is told from one that
 *   grew (`----------------` when unknown: a v2 slot, a partial commit);
 * - `msize`/`mtime`: size and mtime (ns) the last time the reader stood at the end of the file,
 *   so a file rewritten in place to the same size (`wpgen` run twice) is seen as new.
 * A slot that does not decode (torn by a power cut) is skipped: that file starts as if new.
 * Not fsynced: written only after the data it covers is durable, a checkpoint that a power cut
 * leaves older than the data causes repeats, never loss. On open the file is compacted (one slot
 * per device/inode, the newest; at most MAX_SLOTS) and replaced atomically.
 *
 * A v2 slot (no `tail`) is still read, as is a v1 checkpoint (`{"v":1,"ino":I,"offset":O}`, one
 * file per source): the file with that inode resumes at that offset.
 */
export interface FileCheckpoint {
  fp: string;
  head: string;
  dev: number;
  ino: number;
  gen: number;
  offset: number;
  /** Hash of the bytes just before `offset` ('' when unknown). */
  tail: string;
  msize: number;
  mtime: bigint;
  /** Set for an entry taken over from a v1 checkpoint: matched by inode alone. */
  legacy?: boolean;
}

const W = 20;
const MAX_SLOTS = 4096;
const pad = (n: number | bigint): string => String(n).padStart(W, '0');

/** How many bytes before a checkpoint's offset its `tail` hash covers. */
export const TAIL_BYTES = 64;
const NO_TAIL = '-'.repeat(16);

export function encodeCheckpoint(e: FileCheckpoint): string {
  return `{"v":3,"fp":"${e.fp}","head":"${e.head}","tail":"${e.tail || NO_TAIL}","dev":${pad(e.dev)},"ino":${pad(e.ino)},"gen":${pad(e.gen)},"offset":${pad(e.offset)},"msize":${pad(e.msize)},"mtime":${pad(e.mtime)}}\n`;
}

export const SLOT_WIDTH = encodeCheckpoint({ fp: '0'.repeat(16), head: '0'.repeat(16), tail: '', dev: 0, ino: 0, gen: 0, offset: 0, msize: 0, mtime: 0n }).length;

const V3 = /^\{"v":3,"fp":"([0-9a-f]{16})","head":"([0-9a-f]{16})","tail":"([0-9a-f]{16}|-{16})","dev":(\d{20}),"ino":(\d{20}),"gen":(\d{20}),"offset":(\d{20}),"msize":(\d{20}),"mtime":(\d{20})\}$/;

const V2 = /^\{"v":2,"fp":"([0-9a-f]{16})","head":"([0-9a-f]{16})","dev":(\d{20}),"ino":(\d{20}),"gen":(\d{20}),"offset":(\d{20}),"msize":(\d{20}),"mtime":(\d{20})\}$/;
const V1 = /^\{"v":1,"ino":(\d+),"offset":(\d+)\}$/;

/** Every slot that decodes, in file order (later slots are newer). */
export function decodeCheckpoints(text: string): FileCheckpoint[] {
  const out: FileCheckpoint[] = [];
  for (const line of text.split('\n')) {
    const m3 = V3.exec(line);
    if (m3) {
      const tail = m3[3] === NO_TAIL ? '' : m3[3]!;
      out.push({ fp: m3[1]!, head: m3[2]!, tail, dev: Number(m3[4]), ino: Number(m3[5]), gen: Number(m3[6]), offset: Number(m3[7]), msize: Number(m3[8]), mtime: BigInt(m3[9]!) });
      continue;
    }
    const m = V2.exec(line);
    if (m) {
      out.push({ fp: m[1]!, head: m[2]!, tail: '', dev: Number(m[3]), ino: Number(m[4]), gen: Number(m[5]), offset: Number(m[6]), msize: Number(m[7]), mtime: BigInt(m[8]!) });
      continue;
    }
    const v1 = V1.exec(line);
    if (v1) out.push({ fp: '', head: '', tail: '', dev: 0, ino: Number(v1[1]), gen: 0, offset: Number(v1[2]), msize: 0, mtime: 0n, legacy: true });
  }
  return out;
}

export class SourceCheckpoint {
  private fd: number | undefined;
  private readonly slots = new Map<FileCheckpoint, number>();
  private count = 0;

  constructor(readonly file: string) {}

  static pathFor(runDir: string, key: string): string {
    return path.join(runDir, 'sources', `${key}.ckpt`);
  }

  async read(): Promise<FileCheckpoint[]> {
    try {
      return decodeCheckpoints(await fsp.readFile(this.file, 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** Rewrites the file with `keep` (one per device/inode, newest wins) and takes over their slots. */
  compact(keep: FileCheckpoint[]): void {
    const byId = new Map<string, FileCheckpoint>();
    for (const e of keep) if (!e.legacy) byId.set(`${e.dev}:${e.ino}`, e);
    const list = [...byId.values()].slice(-MAX_SLOTS);
    this.close();
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomicSync(this.file, list.map(encodeCheckpoint).join(''), true); // once per start: a lost compaction must not lose every offset
    this.slots.clear();
    list.forEach((e, i) => this.slots.set(e, i));
    this.count = list.length;
  }

  /** One synchronous pwrite of the entry's slot (a new entry gets the next slot). */
  write(e: FileCheckpoint): void {
    if (this.fd === undefined) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = openSync(this.file, 'r+');
    }
    let slot = this.slots.get(e);
    if (slot === undefined) this.slots.set(e, (slot = this.count++));
    const buf = Buffer.from(encodeCheckpoint(e));
    writeSync(this.fd, buf, 0, buf.length, slot * SLOT_WIDTH);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
