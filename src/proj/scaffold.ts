import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: its conf/, sink/ and models/ are the ready work root that `wproj init` copies. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `wproj init`: copies conf/, sink/, models/ and creates data/ dirs; never overwrites a file. */
export function initWorkRoot(dir: string): { created: string[]; kept: string[] } {
  const created: string[] = [];
  const kept: string[] = [];
  for (const part of ['conf', 'sink', 'models']) {
    const from = path.join(PACKAGE_ROOT, part);
    for (const rel of readdirSync(from, { recursive: true }).map(String)) {
      const src = path.join(from, rel);
      const dst = path.join(dir, part, rel);
      if (!rel.match(/\.(ya?ml|dat)$/)) continue;
      if (existsSync(dst)) {
        kept.push(path.join(part, rel));
        continue;
      }
      mkdirSync(path.dirname(dst), { recursive: true });
      cpSync(src, dst);
      created.push(path.join(part, rel));
    }
  }
  for (const d of ['data/in_dat', 'data/out_dat', 'data/rescue', 'data/logs']) mkdirSync(path.join(dir, d), { recursive: true });
  return { created, kept };
}

/** `wproj data clean`: sink outputs, rescue files and checkpoint, run state (queue, source checkpoints), logs. Inputs stay. */
export function cleanData(root: string, rescuePath: string): string[] {
  const removed: string[] = [];
  for (const d of [path.join(root, 'data', 'out_dat'), rescuePath, path.join(root, 'data', '.run'), path.join(root, 'data', 'logs')]) {
    if (!existsSync(d)) continue;
    // keep the wprescue lock the caller holds while cleaning
    for (const name of readdirSync(d)) if (!name.startsWith('.wprescue')) rmSync(path.join(d, name), { recursive: true, force: true });
    removed.push(d);
  }
  return removed;
}
