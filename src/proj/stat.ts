import path from 'node:path';
import type { WorkRoot } from '../config/work-root.js';
import { FileGlob } from '../pipeline/file-discovery.js';
import { SINK_TYPES } from '../sinks/registry.js';
import { countLines } from './line-count.js';

/** `wproj stat`: line counts of enabled file sources and of every file-like sink's output. */
export interface SourceCount {
  key: string;
  path: string;
  enabled: boolean;
  lines: number;
  error?: string;
}

export interface SinkCount {
  scope: 'business' | 'infra';
  group: string;
  sink: string;
  path: string;
  lines: number;
}

export function sourceCounts(wr: WorkRoot): { total: number; items: SourceCount[] } {
  const items = wr.sources.map((s): SourceCount => {
    if (s.type === 'stdin') return { key: s.key, path: '-', enabled: s.enable, lines: 0 };
    // a stream has no line count of its own here; `wproj nats init` and the metrics tell its state
    if (s.type === 'nats') return { key: s.key, path: `nats:${s.params.stream}`, enabled: s.enable, lines: 0, error: 'not a file' };
    const p = path.resolve(wr.root, s.params.path);
    if (!s.enable) return { key: s.key, path: p, enabled: false, lines: 0 };
    // a glob counts every file it matches now (rotated-away files no longer count)
    const exclude = s.params.exclude.map((e) => (e.includes('/') ? path.resolve(wr.root, e) : e));
    const files = new FileGlob(p, exclude).scan();
    const lines = files.reduce((a, f) => a + countLines(f).lines, 0);
    return { key: s.key, path: p, enabled: true, lines, ...(files.length === 0 ? { error: 'missing' } : {}) };
  });
  return { total: items.filter((i) => i.enabled).reduce((a, i) => a + i.lines, 0), items };
}

/** A sink whose output is not a file (http, postgres, tcp, blackhole): there is nothing to count. */
export interface UncountedSink {
  scope: 'business' | 'infra';
  group: string;
  sink: string;
  type: string;
}

export function sinkCounts(wr: WorkRoot): { total: number; items: SinkCount[]; uncounted: UncountedSink[] } {
  const items: SinkCount[] = [];
  const uncounted: UncountedSink[] = [];
  for (const g of [...wr.groups.filter((x) => x.kind === 'business'), ...wr.groups.filter((x) => x.kind === 'infra')]) {
    for (const s of g.sinks) {
      const out = SINK_TYPES[s.type]?.outputPath?.(s.params, wr.root);
      if (!out) {
        uncounted.push({ scope: g.kind, group: g.name, sink: s.name, type: s.type });
        continue;
      }
      items.push({ scope: g.kind, group: g.name, sink: s.name, path: out, lines: countLines(out).lines });
    }
  }
  return { total: items.reduce((a, i) => a + i.lines, 0), items, uncounted };
}
