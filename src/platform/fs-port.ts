import { promises as fsp, writeSync } from 'node:fs';

/**
 * The file-system operations whose failure or interruption matters for crash safety: appends,
 * syncs and renames of rescue files, WAL segments and checkpoints. Tests replace single methods to
 * inject ENOSPC, EIO or a crash between two steps.
 */
export interface FsPort {
  open(path: string, flags: string, mode?: number): Promise<fsp.FileHandle>;
  write(fh: fsp.FileHandle, data: Buffer | string): Promise<void>;
  /** The same, synchronously: for small appends to local files on a hot path (see FileSink). */
  writeSync(fh: fsp.FileHandle, data: Buffer): void;
  datasync(fh: fsp.FileHandle): Promise<void>;
  truncate(fh: fsp.FileHandle, len: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  syncDir(dir: string): Promise<void>;
}

export const realFs: FsPort = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  async write(fh, data) {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
  },
  writeSync(fh, buf) {
    let off = 0;
    while (off < buf.length) off += writeSync(fh.fd, buf, off, buf.length - off);
  },
  datasync: (fh) => fh.datasync(),
  truncate: (fh, len) => fh.truncate(len),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  async syncDir(dir) {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
