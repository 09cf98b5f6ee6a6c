import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';

/**
 * A file source's progress: `data/.run/sources/<key>.ckpt`, one fixed-width JSON line
 * `{"v":1,"ino":<inode>,"offset":<byte offset>}` rewritten in place with a single pwrite (no
 * rename, so it is cheap enough after every batch). The offset only ever points just past lines
 * that every sink has durably taken. The inode tells a replaced input file from the same one.
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
  private fh: fsp.FileHandle | undefined;

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

  async write(ino: number, offset: number, sync: boolean): Promise<void> {
    if (!this.fh) {
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      this.fh = await fsp.open(this.file, 'w');
    }
    const buf = Buffer.from(encodeCheckpoint(ino, offset));
    await this.fh.write(buf, 0, buf.length, 0);
    if (sync) await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
