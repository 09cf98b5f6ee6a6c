import { closeSync, openSync, readSync } from 'node:fs';
import { errnoCode } from '../errors.js';

/** Counts `\n` bytes from byte `from` on; a missing file counts as 0 lines (`missing` says so). */
export function countLines(file: string, from = 0): { lines: number; missing: boolean } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { lines: 0, missing: true };
    throw err;
  }
  const buf = Buffer.allocUnsafe(1 << 20);
  let lines = 0;
  let pos = from;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      let i = -1;
      while ((i = buf.indexOf(10, i + 1)) !== -1 && i < n) lines++;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, missing: false };
}
