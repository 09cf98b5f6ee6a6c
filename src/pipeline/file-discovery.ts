import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import picomatch from 'picomatch';

/**
 * Which files a `type: file` source reads: `path` is a glob (picomatch semantics, absolute after
 * resolution against the work root; a plain path is a glob matching itself) minus any `exclude`
 * glob. An exclude without a `/` matches file names (`*.gz`), one with a `/` whole paths. `scan()`
 * walks only the glob's base directory, as deep as the glob reaches; `watch()` reports changes
 * under it (chokidar), so files that appear later are found at once, the periodic rescan being
 * the safety net for what a watcher misses.
 */
export class FileGlob {
  readonly base: string;
  private readonly depth: number;
  private readonly isMatch: (p: string) => boolean;
  private readonly isExcluded: (p: string) => boolean;

  constructor(
    readonly pattern: string,
    exclude: readonly string[],
  ) {
    const scan = picomatch.scan(pattern);
    if (scan.isGlob) {
      this.base = scan.base || '/';
      this.depth = scan.glob.includes('**') ? Infinity : scan.glob.split('/').length - 1;
      this.isMatch = picomatch(pattern, { dot: true });
    } else {
      this.base = path.dirname(pattern);
      this.depth = 0;
      this.isMatch = (p) => p === pattern;
    }
    const byName = exclude.filter((e) => !e.includes('/')).map((e) => picomatch(e, { dot: true }));
    const byPath = exclude.filter((e) => e.includes('/')).map((e) => picomatch(e, { dot: true }));
    this.isExcluded = (p) => byName.some((m) => m(path.basename(p))) || byPath.some((m) => m(p));
  }

  matches(p: string): boolean {
    return this.isMatch(p) && !this.isExcluded(p);
  }

  /** The regular files that match now, sorted. */
  scan(): string[] {
    const out: string[] = [];
    this.walk(this.base, 0, (full, isFile) => {
      if (isFile && this.matches(full)) out.push(full);
    });
    return out.sort();
  }

  /** Every regular file in the directories the glob covers, matching or not (a rotated file stays there). */
  allFiles(): string[] {
    const out: string[] = [];
    this.walk(this.base, 0, (full, isFile) => {
      if (isFile) out.push(full);
    });
    return out;
  }

  private walk(dir: string, depth: number, visit: (full: string, isFile: boolean) => void): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // not there (yet): a later scan finds it
    }
    for (const name of names) {
      const full = path.join(dir, name);
      let isDir: boolean;
      let isFile: boolean;
      try {
        const st = statSync(full);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue; // gone between readdir and stat
      }
      if (isDir && depth < this.depth) this.walk(full, depth + 1, visit);
      else if (isFile) visit(full, true);
    }
  }

  /** Calls `onAdd` when a file or directory appears or goes, `onChange` when a file changes. */
  watch(onAdd: () => void, onChange: () => void): FSWatcher {
    const w = watch(this.base, {
      ignoreInitial: true,
      depth: Number.isFinite(this.depth) ? this.depth : undefined,
      persistent: false,
      // no watch on files that do not match (a busy /var/log): a rename away still shows as unlink
      ignored: (p: string, st?: { isFile(): boolean }) => st?.isFile() === true && !this.matches(p),
    });
    w.on('all', (event) => (event === 'change' ? onChange() : onAdd()));
    w.on('error', () => undefined); // the rescan stays the safety net
    return w;
  }
}
