import { closeSync, mkdirSync, openSync, promises as fsp, writeSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';

/**
 * A file source's progress: `data/.run/sources/<key>.ckpt`, one fixed-width JSON line
 * `{"v":1,"ino":<inode>,"offset":<byte offset>}` rewritten in place with a single pwrite (no
 * rename, so it is cheap enough after every batch). The offset only ever points just past lines
 * that every sink has durably taken. The inode tells a replaced input file from the same one.
 * It is not fsynced: written only after the data it covers is durable, a checkpoint that a power
 * cut leaves older than the data can cause repeats, never loss.
 */
const WIDTH = 20;

export function encodeCheckpoint(ino: number, offset: number): string {
  return `{"v":1,"ino":${String(ino).padStart(WIDTH, '0')},"offset":${String(offset).padStart(WIDTH, '0')}}\n`;
}

export function decodeCheckpoint(text: string): { ino: number; offset: number } | undefined {
  const m = /^\{"v":1,"ino":(\d+),"offset":(\d+)\}\n?$/.exec(text);
  return m ? { ino: Number(m[1]), offset: Number(m[2]) } : undefined;
}

export class SourceCheckpoint {
  private fd: number | undefined;

  constructor(readonly file: string) {}

  static pathFor(runDir: string, key: string): string {
    return path.join(runDir, 'sources', `${key}.ckpt`);
  }

  async read(): Promise<{ ino: number; offset: number } | undefined> {
    try {
      return decodeCheckpoint(await fsp.readFile(this.file, 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** One synchronous pwrite at offset 0: cheaper than a thread-pool round trip per batch. */
  write(ino: number, offset: number): void {
    if (this.fd === undefined) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = openSync(this.file, 'w');
    }
    const buf = Buffer.from(encodeCheckpoint(ino, offset));
    writeSync(this.fd, buf, 0, buf.length, 0);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
