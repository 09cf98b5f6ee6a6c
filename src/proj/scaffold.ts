import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkRoot } from '../config/work-root.js';
import { errnoCode, WrError } from '../errors.js';
import { sinkCounts } from './stat.js';
import { STARTER_FILES } from './starter-files.js';

/** The package root: its conf/, sink/ and models/ are the ready work root that `wproj init` copies. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `wproj init`: writes the small starting point (`demo`: copies the demo's conf/, sink/, models/)
 * and creates the data/ dirs; never overwrites a file.
 */
export function initWorkRoot(dir: string, demo = false): { created: string[]; kept: string[] } {
  try {
    return writeWorkRoot(dir, demo);
  } catch (err) {
    const code = errnoCode(err);
    if (err instanceof WrError || code === undefined) throw err;
    throw new WrError('IO_ERROR', `cannot write the work root ${dir}: ${code} (${(err as { path?: string }).path ?? dir})`, err);
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdirSync never returns on some paths (under
 * /proc it loops on ENOENT), and a file in the way is a usage error that names it.
 */
function makeDir(d: string): void {
  if (existsSync(d)) {
    if (statSync(d).isDirectory()) return;
    throw new WrError('USAGE', `cannot write the work root: ${d} is a file, not a directory`);
  }
  const parent = path.dirname(d);
  if (parent !== d) makeDir(parent);
  mkdirSync(d);
}

function writeWorkRoot(dir: string, demo: boolean): { created: string[]; kept: string[] } {
  const created: string[] = [];
  const kept: string[] = [];
  if (!demo) {
    for (const [rel, text] of Object.entries(STARTER_FILES)) {
      const dst = path.join(dir, rel);
      if (existsSync(dst)) {
        kept.push(rel);
        continue;
      }
      makeDir(path.dirname(dst));
      writeFileSync(dst, text);
      created.push(rel);
    }
  }
  for (const part of demo ? ['conf', 'sink', 'models'] : []) {
    const from = path.join(PACKAGE_ROOT, part);
    for (const rel of readdirSync(from, { recursive: true }).map(String)) {
      const src = path.join(from, rel);
      const dst = path.join(dir, part, rel);
      if (!rel.match(/\.(ya?ml|dat)$/)) continue;
      if (existsSync(dst)) {
        kept.push(path.join(part, rel));
        continue;
      }
      makeDir(path.dirname(dst));
      cpSync(src, dst);
      created.push(path.join(part, rel));
    }
  }
  for (const d of ['data/in_dat', 'data/out_dat', 'data/rescue', 'data/logs']) makeDir(path.join(dir, d));
  return { created, kept };
}

/**
 * `wproj data clean`: every file sink's output (wherever its base points), data/out_dat, the
 * rescue directory (files, dead/, recover.lock), run state (the configured queue dir and
 * data/.run) and the log files. Inputs stay. Returns what it removed.
 */
export function cleanData(wr: WorkRoot, dryRun = false): string[] {
  const removed: string[] = [];
  const rm = (p: string): void => {
    if (!existsSync(p)) return;
    if (!dryRun) rmSync(p, { recursive: true, force: true });
    removed.push(p);
  };
  const emptyDir = (d: string): void => {
    if (!existsSync(d)) return;
    // keep the wprescue and wparse locks the caller holds while cleaning
    const names = readdirSync(d).filter((name) => !name.startsWith('.wprescue') && name !== 'wparse.lock' && name !== 'wparse.pid');
    if (!dryRun) for (const name of names) rmSync(path.join(d, name), { recursive: true, force: true });
    if (names.length) removed.push(d);
  };
  for (const s of sinkCounts(wr).items) rm(s.path);
  emptyDir(path.join(wr.root, 'data', 'out_dat'));
  emptyDir(path.resolve(wr.root, wr.engine.rescue.path));
  rm(path.resolve(wr.root, wr.engine.queue.dir));
  emptyDir(path.join(wr.root, 'data', '.run'));
  for (const cmd of ['wparse', 'wprescue', 'wproj', 'wpgen']) rm(path.resolve(wr.root, wr.engine.log.file.replaceAll('{cmd}', cmd)));
  return removed;
}
