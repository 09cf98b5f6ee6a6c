import { realFs, type FsPort } from '../../src/platform/fs-port.js';

/**
 * A filesystem port whose disk fills after `afterBytes` written: the write that crosses it lands
 * half its bytes and throws ENOSPC, like a real full disk, until `makeRoom()`.
 */
export function diskFillingAfter(afterBytes: number): { fs: FsPort; makeRoom: () => void } {
  let full = true;
  let written = 0;
  const fs: FsPort = {
    ...realFs,
    writeSync(fh, buf) {
      if (full && written > afterBytes) {
        realFs.writeSync(fh, buf.subarray(0, buf.length >> 1));
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      written += buf.length;
      realFs.writeSync(fh, buf);
    },
  };
  return { fs, makeRoom: () => (full = false) };
}
