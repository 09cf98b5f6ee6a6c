import { closeSync, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { WrError, errnoCode, errorMessage } from '../errors.js';
import { tmpPathFor } from '../platform/atomic-write.js';

/**
 * Replay progress, `<rescue.path>/recover.lock`, version 2: two slots of S bytes each (the file is
 * exactly 2·S bytes; S = 4096 and doubles when the state outgrows it). Each update overwrites the
 * older slot in place (one pwrite, fdatasync'd when `durable`), so no rename per batch; a slot torn
 * by a crash fails its CRC and the reader takes the other, which holds the previous state. A slot:
 *
 *   wrck2 <seq: 16 hex> <crc: 8 hex> <len: 8 hex> <payload: len bytes, ending in \n>  (rest of the slot: stale bytes)
 *
 * `crc` is CRC-32 (zlib) over `<seq> <len>` as written then the payload bytes; the valid slot with
 * the highest seq wins; the next update goes to the other slot with seq + 1. The payload is JSON:
 *   {"files":{"<job id>":{"offset":B,"lines":N,"file":"<identity>"}}}
 * `offset` is the byte offset just past the last line the sink confirmed (a restart resumes there,
 * so nothing confirmed is sent again) and `lines` the lines before it. `file` is the identity of
 * the file the entry belongs to (RescueFile.identity: inode, birth time, size, CRC-32 of the first 4 KiB): an entry left
 * behind by a crash between deleting a finished file and dropping its entry never applies to a new
 * file that got the same name. Version 1 (a JSON file `{"version":1,"files":{…}}` without
 * identities, replaced atomically per batch) is still read, and rewritten as version 2.
 * Golden file: test/fixtures/recover-lock-v2.bin (and recover-lock-v1.json).
 */
export interface FileProgress {
  offset: number;
  lines: number;
  /** Identity of the file the progress belongs to (absent in version 1 entries: trusted by name). */
  file?: string;
}

const MAGIC = 'wrck2 ';
const HEADER = MAGIC.length + 16 + 1 + 8 + 1 + 8 + 1;
const MIN_SLOT = 4096;

/** The state in one slot, or undefined when the slot is torn, empty or not ours. */
export function parseSlot(buf: Buffer): { seq: number; files: Record<string, FileProgress> } | undefined {
  if (buf.length < HEADER || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const seqHex = buf.toString('latin1', MAGIC.length, MAGIC.length + 16);
  const crcHex = buf.toString('latin1', MAGIC.length + 17, MAGIC.length + 25);
  const lenHex = buf.toString('latin1', MAGIC.length + 26, MAGIC.length + 34);
  if (!/^[0-9a-f]{16}$/.test(seqHex) || !/^[0-9a-f]{8}$/.test(crcHex) || !/^[0-9a-f]{8}$/.test(lenHex)) return undefined;
  const len = parseInt(lenHex, 16);
  if (HEADER + len > buf.length) return undefined;
  const payload = buf.subarray(HEADER, HEADER + len);
  if (crc32(payload, crc32(`${seqHex} ${lenHex}`)) !== parseInt(crcHex, 16)) return undefined;
  try {
    const obj = JSON.parse(payload.toString('utf8')) as { files?: unknown };
    if (!obj.files || typeof obj.files !== 'object') return undefined;
    return { seq: parseInt(seqHex, 16), files: obj.files as Record<string, FileProgress> };
  } catch {
    return undefined;
  }
}

/** The bytes of one slot holding `files` at `seq` (without the stale tail). */
export function encodeSlot(seq: number, files: Record<string, FileProgress>): Buffer {
  return encodeEntries(seq, Object.entries(files).map(([job, p]) => entryJson(job, p)));
}

/** One entry of the payload's `files` object, as `"<job>":{…}`. */
function entryJson(job: string, p: FileProgress): string {
  return `${JSON.stringify(job)}:${JSON.stringify(p)}`;
}

/** A slot from entries already in JSON (see entryJson): the same bytes as JSON.stringify({ files }). */
function encodeEntries(seq: number, entries: Iterable<string>): Buffer {
  const payload = Buffer.from(`{"files":{${[...entries].join(',')}}}\n`); // the newline is CRC'd too: a slot is whole or torn
  const seqHex = seq.toString(16).padStart(16, '0');
  const lenHex = payload.length.toString(16).padStart(8, '0');
  const crcHex = crc32(payload, crc32(`${seqHex} ${lenHex}`)).toString(16).padStart(8, '0');
  return Buffer.concat([Buffer.from(`${MAGIC}${seqHex} ${crcHex} ${lenHex} `, 'latin1'), payload]);
}

/** The newest valid state in a recover.lock's bytes (either version), and its slot layout. */
export function parseCheckpoint(bytes: Buffer): { seq: number; slot: number; files: Record<string, FileProgress> } {
  if (bytes.length > 0 && bytes[0] === 0x7b) {
    try {
      const obj = JSON.parse(bytes.toString('utf8')) as { version?: unknown; files?: Record<string, FileProgress> };
      if (obj.version === 1 && obj.files && typeof obj.files === 'object') return { seq: 0, slot: 0, files: obj.files };
    } catch {
      // a torn version 1 file: nothing to resume from
    }
    return { seq: 0, slot: 0, files: {} };
  }
  const slot = bytes.length / 2;
  if (slot < HEADER || !Number.isInteger(slot)) return { seq: 0, slot: 0, files: {} };
  const a = parseSlot(bytes.subarray(0, slot));
  const b = parseSlot(bytes.subarray(slot));
  const best = a && b ? (a.seq > b.seq ? a : b) : (a ?? b);
  return best ? { ...best, slot } : { seq: 0, slot: 0, files: {} };
}

export class RecoverCheckpoint {
  private files: Record<string, FileProgress>;
  /**
   * Every entry of `files` in JSON, in the same order. Each update rewrites the whole state, and with
   * many small files the finished ones whose deletion is still under way (tens of them) would be
   * serialised again on every update: their JSON is kept instead, so an update costs one entry.
   */
  private readonly encoded = new Map<string, string>();
  private seq: number;
  private slot: number;
  /** The file held bytes but no readable state: every entry is lost, so files resume from 0. */
  readonly unreadable: boolean;
  private fd: number | undefined;
  private dirty = false;

  constructor(
    readonly file: string,
    private readonly durable: boolean,
  ) {
    const bytes = readBytes(file);
    const parsed = parseCheckpoint(bytes);
    this.unreadable = bytes.length > 0 && parsed.seq === 0 && Object.keys(parsed.files).length === 0 && !isEmptyV1(bytes);
    this.files = parsed.files;
    for (const [job, p] of Object.entries(this.files)) this.encoded.set(job, entryJson(job, p));
    this.seq = parsed.seq;
    this.slot = parsed.slot; // 0: the file must be (re)built before the first in-place update
  }

  static read(file: string): Record<string, FileProgress> {
    return parseCheckpoint(readBytes(file)).files;
  }

  get(job: string): FileProgress | undefined {
    return this.files[job];
  }

  all(): Record<string, FileProgress> {
    return { ...this.files };
  }

  /** Records progress; written in place at once, and durable before it resolves when `durable`. */
  set(job: string, p: FileProgress): Promise<void> {
    this.files[job] = p;
    this.encoded.set(job, entryJson(job, p));
    this.save(this.durable);
    return Promise.resolve();
  }

  /**
   * Drops a finished job's entry in memory; it reaches the disk with the next update (or close),
   * with no sync of its own: the job's file is deleted first, and an entry whose file is gone or
   * is another file (see `file`) is ignored and dropped on restart, so a lost removal costs nothing.
   */
  remove(job: string): Promise<void> {
    if (job in this.files) {
      delete this.files[job];
      this.encoded.delete(job);
      this.dirty = true;
    }
    return Promise.resolve();
  }

  /** Writes a pending removal and closes the file. */
  close(): void {
    if (this.dirty) this.save(this.durable);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private save(sync: boolean): void {
    this.dirty = false;
    this.seq++;
    const data = encodeEntries(this.seq, this.encoded.values());
    // Removed under us (`rm -rf data/rescue` beside a running daemon): updates in place would land in
    // an unlinked inode and a restart would resume from nothing, replaying every confirmed line again.
    if (this.fd !== undefined && fstatSync(this.fd).nlink === 0) {
      closeSync(this.fd);
      this.fd = undefined;
      this.slot = 0;
    }
    if (this.fd === undefined && this.slot > 0) this.fd = openIfExists(this.file); // a version 2 file: update in place
    if (this.fd === undefined || data.length > this.slot) {
      this.rebuild(data);
      return;
    }
    writeSync(this.fd, data, 0, data.length, (this.seq % 2) * this.slot);
    if (sync) fdatasyncSync(this.fd);
  }

  /** A new file (first use, a version 1 file, or a state too big for its slots): written atomically. */
  private rebuild(data: Buffer): void {
    if (this.fd !== undefined) closeSync(this.fd);
    let slot = Math.max(MIN_SLOT, this.slot);
    while (slot < data.length) slot *= 2;
    const whole = Buffer.alloc(slot * 2);
    data.copy(whole, (this.seq % 2) * slot);
    const tmp = tmpPathFor(this.file);
    mkdirSync(path.dirname(this.file), { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, whole);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dfd = openSync(path.dirname(this.file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this.slot = slot;
    this.fd = openSync(this.file, 'r+');
  }
}

function isEmptyV1(bytes: Buffer): boolean {
  try {
    return (JSON.parse(bytes.toString('utf8')) as { version?: unknown }).version === 1;
  } catch {
    return false;
  }
}

function openIfExists(file: string): number | undefined {
  try {
    return openSync(file, 'r+');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return Buffer.alloc(0);
    // a directory or an unreadable file in its place: say which file, not an internal error
    throw new WrError('IO_ERROR', `cannot read the replay checkpoint ${file}: ${errorMessage(err)}`, err);
  }
}
