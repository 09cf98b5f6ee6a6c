import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

/**
 * A file's identity (SPEC section 2): the hash of its first line (at most HEAD_MAX bytes) plus its
 * device and inode. The first line does not change while a log grows, survives a rename, and
 * differs after a rewrite with new content; device/inode keep two files that begin alike apart.
 */
export const HEAD_MAX = 256;

export interface Head {
  /** The head bytes themselves (kept to spot a rewrite of an open file cheaply). */
  bytes: Buffer;
  hash: string;
}

const hash16 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex').slice(0, 16);

/**
 * Reads the head of an open file. Undefined while the file holds neither a whole first line nor
 * HEAD_MAX bytes (a file still being started): its identity is not known yet. With `final` (batch
 * mode: the file will not grow while read) whatever is there counts; an empty file never does.
 */
export function readHead(fd: number, final: boolean): Head | undefined {
  const buf = Buffer.alloc(HEAD_MAX);
  const n = readSync(fd, buf, 0, HEAD_MAX, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl >= 0) return mk(buf.subarray(0, nl + 1));
  if (n === HEAD_MAX || (final && n > 0)) return mk(buf.subarray(0, n));
  return undefined;
}

function mk(bytes: Buffer): Head {
  return { bytes: Buffer.from(bytes), hash: hash16(bytes) };
}

/** The fingerprint in record ids: one per file and generation (a truncation or rewrite in place bumps `gen`). */
export function fingerprint(head: string, dev: number, ino: number, gen: number): string {
  return hash16(`${head}:${dev}:${ino}:${gen}`);
}

/** Hash of the bytes just before a checkpoint's offset (its `tail`). */
export function tailHash(bytes: Buffer): string {
  return hash16(bytes);
}

/** The (at most `max`) bytes just before `offset` of an open file; fewer when the file is shorter. */
export function readBefore(fd: number, offset: number, max: number): Buffer {
  const n = Math.min(max, offset);
  const buf = Buffer.alloc(n);
  const got = n > 0 ? readSync(fd, buf, 0, n, offset - n) : 0;
  return buf.subarray(0, got);
}

/** True when the open file's first bytes still equal `head` (false once it was rewritten or truncated). */
export function headUnchanged(fd: number, head: Head): boolean {
  return bytesUnchanged(fd, 0, head.bytes);
}

/** True when the open file holds `bytes` at offset `at`. */
export function bytesUnchanged(fd: number, at: number, bytes: Buffer): boolean {
  const buf = Buffer.alloc(bytes.length);
  const n = readSync(fd, buf, 0, buf.length, at);
  return n === buf.length && buf.equals(bytes);
}
