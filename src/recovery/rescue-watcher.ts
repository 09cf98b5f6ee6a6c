import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { errorMessage } from '../errors.js';
import { closeWatcher } from '../platform/close-watcher.js';
import type { Logger } from '../platform/logger.js';
import { classify, DEAD_DIR, rescueLayout } from '../rescue/layout.js';

/** Above this many waiting rescue files the watcher is closed and the rescan alone finds files. */
export const WATCH_MAX_FILES = 64;

/**
 * chokidar on the rescue directory, so a released file is picked up at once rather than at the
 * next rescan. chokidar keeps one watch per file and re-reads a whole directory (lstat of every
 * entry) for each file event in it, so with a backlog of N files every replayed-and-deleted file
 * costs O(N): 10k files took 6 minutes here, and even 500 (the old restart point) flooded the
 * thread pool with lstat calls that delayed replay's own file operations. A backlog has plenty of
 * work queued anyway, so above WATCH_MAX_FILES waiting files the watcher is closed and the periodic
 * rescan (which needs no watch at all) carries on; below half of it the watcher is started again.
 * Only the daemon watches: `wprescue batch` finds late arrivals by rescanning.
 */
export class RescueWatcher {
  private watcher: FSWatcher | undefined;
  private closing: Promise<void> = Promise.resolve();

  /**
   * `onReady` runs each time a watch is in place: a file released while chokidar was still reading
   * the directory raises no event (the initial files are ignored), so the caller scans once then.
   */
  constructor(
    private readonly rescueDir: string,
    private readonly onDat: (id: string) => void,
    private readonly log: Logger,
    private readonly onReady: () => void = () => undefined,
  ) {}

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /** Starts or stops watching for the number of rescue files now waiting. */
  update(waiting: number): void {
    if (this.watcher && waiting > WATCH_MAX_FILES) {
      this.log.info({ waiting }, 'large rescue backlog: directory watcher closed, rescans find new files');
      this.stop();
    } else if (!this.watcher && waiting <= WATCH_MAX_FILES / 2) {
      this.start();
    }
  }

  private start(): void {
    const root = this.rescueDir;
    const layout = rescueLayout(root);
    this.watcher = watch(root, {
      ignoreInitial: true,
      // as the rescan: a link inside the directory (one back to its root) is not followed, or the
      // same file would be reported under a second id and replayed twice
      followSymlinks: false,
      ignored: (p: string) => {
        const id = layout.jobIdOf(p);
        if (id === undefined) return false; // the root itself
        const kind = classify(id);
        return (kind !== 'job' && kind !== 'foreign') || id.startsWith(`${DEAD_DIR}/`);
      },
    });
    const onFile = (p: string): void => {
      if (p.endsWith('.dat')) this.onDat(path.relative(root, p).split(path.sep).join('/'));
    };
    // an error event without a listener is thrown: a symlink loop (ELOOP) in the directory crashed the daemon
    this.watcher.on('ready', () => {
      this.log.info({ dir: root }, 'rescue directory watched');
      this.onReady();
    });
    this.watcher.on('add', onFile).on('change', onFile).on('error', (err: unknown) => this.log.warn({ err: errorMessage(err) }, 'rescue directory watcher: error ignored, rescans go on'));
  }

  private stop(): void {
    const w = this.watcher;
    this.watcher = undefined;
    if (w) this.closing = this.closing.then(() => closeWatcher(w));
  }

  async close(): Promise<void> {
    this.stop();
    await this.closing;
  }
}
