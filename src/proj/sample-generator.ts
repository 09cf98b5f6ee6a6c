import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { WrError } from '../errors.js';

/** Every `sample.dat` under models/, in sorted path order, so the output is reproducible. */
export function findSampleFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findSampleFiles(full));
    else if (name === 'sample.dat') out.push(full);
  }
  return out;
}

export interface GenerateOptions {
  workRoot: string;
  lines: number;
  output: string;
  rate?: number;
  statSec?: number;
  print?: (t: string) => void;
  /** Where `output: '-'` writes (standard output, for `wpgen sample -o - | wparse batch`). */
  stdout?: Writable;
}

/** `wpgen sample`: exactly `lines` lines, round-robin over every sample line. */
export async function generateSample(o: GenerateOptions): Promise<{ lines: number; samples: number; file: string }> {
  const samples = findSampleFiles(path.join(o.workRoot, 'models')).flatMap((f) =>
    readFileSync(f, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0),
  );
  if (samples.length === 0) throw new WrError('CONFIG_NOT_FOUND', `no sample lines: put lines in ${path.join(o.workRoot, 'models')}/**/sample.dat`);
  const toStdout = o.output === '-';
  const file = toStdout ? '-' : path.resolve(o.workRoot, o.output);
  if (!toStdout) mkdirSync(path.dirname(file), { recursive: true });
  const out: Writable = toStdout ? (o.stdout ?? process.stdout) : createWriteStream(file);
  const t0 = Date.now();
  let lastStat = t0;
  const chunk = o.rate ? Math.max(1, Math.min(1000, Math.floor(o.rate / 10))) : 4096;
  for (let i = 0; i < o.lines; ) {
    const n = Math.min(chunk, o.lines - i);
    let text = '';
    for (let k = 0; k < n; k++) text += `${samples[(i + k) % samples.length]}\n`;
    i += n;
    if (!out.write(text)) await once(out, 'drain');
    if (o.rate) {
      const due = t0 + (i / o.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (o.statSec && Date.now() - lastStat >= o.statSec * 1000) {
      lastStat = Date.now();
      o.print?.(`wpgen: ${i} lines, ${Math.round(i / ((Date.now() - t0) / 1000))} lines/s`);
    }
  }
  if (toStdout) {
    // standard output is not ours to end; the caller's exit flushes it
    if (out.writableNeedDrain) await once(out, 'drain');
  } else {
    out.end();
    await once(out, 'finish');
  }
  return { lines: o.lines, samples: samples.length, file };
}
