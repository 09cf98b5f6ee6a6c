import type { FSWatcher } from 'chokidar';

/**
 * Closes a chokidar watcher for good. `close()` removes every listener, the error listener too,
 * while a stat it started may still fail (a symlink loop: ELOOP); an `error` event without a
 * listener is thrown and ends the process. A stopping daemon died that way with a stack trace.
 */
export function closeWatcher(w: FSWatcher): Promise<void> {
  const closed = w.close();
  w.on('error', () => undefined);
  return closed;
}
