import { statSync } from 'node:fs';
import path from 'node:path';
import type { Progress, StatTable } from '../platform/stat-table.js';
import type { Metrics } from '../metrics/metrics.js';
import type { HealthProblem } from '../metrics/server.js';
import type { Clock } from '../platform/clock.js';
import type { QueueStore } from '../queue/store.js';
import type { RecoverCheckpoint } from './checkpoint.js';
import { jobBytes, jobSinkKey } from './discovery.js';
import type { ReplayHandler } from './replayer.js';

const AVG_LINE_BYTES_DEFAULT = 200;
const STALL_MS = 60_000;

/**
 * Per-sink replay figures for `--stat`, the TTY progress line, the backlog metrics and /healthz.
 * Backlog is estimated from file sizes past their checkpoints (no file is read to count lines, so
 * start-up does not grow with the backlog), divided by the average rescue line size seen so far.
 */
export class StatReporter {
  private last = new Map<string, number>();
  private readonly gaugeKeys = new Set<string>();
  private lastAt: number;
  private readonly startedAt: number;

  constructor(private readonly d: { store: QueueStore; handler: ReplayHandler; checkpoint: RecoverCheckpoint; rescueDir: string; clock: Clock; metrics?: Metrics }) {
    this.lastAt = d.clock.now();
    this.startedAt = this.lastAt;
    d.metrics?.onBacklogScrape(() => this.updateGauges());
  }

  /** Sets the backlog gauges (at every scrape; a sink whose backlog is gone reads 0). */
  updateGauges(): void {
    const m = this.d.metrics;
    if (!m) return;
    const backlog = this.backlog();
    const avg = this.avgLineBytes();
    let oldest = Infinity;
    for (const key of new Set([...this.gaugeKeys, ...backlog.keys()])) {
      const b = backlog.get(key);
      if (b) oldest = Math.min(oldest, b.oldest);
      m.backlogLines.labels(...splitKey(key)).set(b ? Math.round(b.bytes / avg) : 0);
      this.gaugeKeys.add(key);
    }
    m.backlogOldest.set(Number.isFinite(oldest) ? Math.max(0, this.d.clock.now() - oldest) / 1000 : 0);
  }

  backlog(): Map<string, { bytes: number; oldest: number }> {
    const out = new Map<string, { bytes: number; oldest: number }>();
    for (const j of this.d.store.jobs()) {
      if (j.state !== 'pending' && j.state !== 'in_flight') continue;
      const key = jobSinkKey(j);
      let size = jobBytes(j);
      if (size === undefined) {
        try {
          size = statSync(path.join(this.d.rescueDir, j.id)).size;
        } catch {
          continue;
        }
      }
      const done = this.d.checkpoint.get(j.id)?.offset ?? 0;
      const b = out.get(key) ?? { bytes: 0, oldest: Infinity };
      b.bytes += Math.max(0, size - done);
      b.oldest = Math.min(b.oldest, Number(j.data.time ?? Infinity));
      out.set(key, b);
    }
    return out;
  }

  private avgLineBytes(): number {
    let bytes = 0;
    let lines = 0;
    for (const p of Object.values(this.d.checkpoint.all())) {
      bytes += p.offset;
      lines += p.lines;
    }
    return lines > 0 ? bytes / lines : AVG_LINE_BYTES_DEFAULT;
  }

  table(statSec: number, final = false): StatTable {
    const now = this.d.clock.now();
    const secs = Math.max(0.001, (now - (final ? this.startedAt : this.lastAt)) / 1000);
    const backlog = this.backlog();
    const avg = this.avgLineBytes();
    const keys = new Set([...this.d.handler.stats.keys(), ...backlog.keys()]);
    const rows = [...keys].sort().map((key) => {
      const s = this.d.handler.statsFor(key);
      const win = final ? s.replayed : s.replayed - (this.last.get(key) ?? 0);
      const rate = Math.round(win / secs);
      const b = backlog.get(key);
      const lines = b ? Math.round(b.bytes / avg) : 0;
      this.last.set(key, s.replayed);
      return [key, win, s.replayed, rate, lines, lines === 0 ? '-' : rate > 0 ? `${Math.ceil(lines / rate)}s` : '?'];
    });
    this.updateGauges();
    this.lastAt = now;
    const c = this.d.store.counts();
    const head = final
      ? `wprescue: summary: jobs completed ${c.completed}, dead ${c.dead}, pending ${c.pending}`
      : `wprescue: every ${statSec}s: jobs pending ${c.pending}, in flight ${c.in_flight}, completed ${c.completed}, dead ${c.dead}`;
    return { title: head, headers: ['Sink', final ? 'Lines' : 'Lines (window)', 'Total', 'Rate/s', 'Backlog lines', 'ETA'], rows };
  }

  progress(): Progress {
    const done = [...this.d.handler.stats.values()].reduce((a, s) => a + s.replayed, 0);
    let bytes = 0;
    for (const b of this.backlog().values()) bytes += b.bytes;
    return { done, total: done + Math.round(bytes / this.avgLineBytes()) };
  }

  /**
   * /healthz (SPEC section 8): a problem when backlog exists and no line was replayed for a minute
   * (whether the sink is down or not), or when a job went dead in the last minute.
   */
  healthProblem(stallMs = STALL_MS): HealthProblem | undefined {
    const now = this.d.clock.now();
    const died = this.d.store.jobs().filter((j) => j.state === 'dead' && now - j.updatedAt <= stallMs);
    if (died.length) return { reason: 'dead_jobs', message: `${died.length} job(s) went dead in the last ${stallMs / 1000}s`, jobs: died.map((j) => j.id) };
    const waiting = [...this.backlog()].filter(([, b]) => b.bytes > 0).map(([k]) => k);
    if (waiting.length === 0) return undefined;
    let lastReplay = this.startedAt;
    for (const s of this.d.handler.stats.values()) if (s.replayed > 0) lastReplay = Math.max(lastReplay, s.lastProgressAt);
    if (now - lastReplay <= stallMs) return undefined;
    const errors = waiting.map((k) => this.d.handler.stats.get(k)?.lastError).filter((e): e is string => e !== undefined);
    return {
      reason: 'replay_stalled',
      message: `backlog in ${waiting.join(', ')} and no line replayed for ${Math.round((now - lastReplay) / 1000)}s`,
      sinks: waiting,
      ...(errors.length ? { last_error: errors[0] } : {}),
    };
  }
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
