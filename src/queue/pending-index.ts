import type { Job } from './job-state.js';

/**
 * Pending jobs grouped by key (for replay jobs: the sink), each group kept sorted by the dispatch
 * order. Only the head of a group may run, and only when nothing of its key runs, so a sink's
 * files go strictly in order: a later file never overtakes an earlier one that waits for its
 * retry backoff. Jobs without a key form groups of one. Picking work looks at the heads only, so
 * its cost grows with the number of sinks, not with the backlog.
 */
export class PendingIndex {
  private readonly groups = new Map<string, Job[]>();
  private readonly keyOfId = new Map<string, string>();

  constructor(
    private readonly compare: (a: Job, b: Job) => number,
    private readonly keyOf: (job: Job) => string | undefined,
  ) {}

  get size(): number {
    return this.keyOfId.size;
  }

  has(id: string): boolean {
    return this.keyOfId.has(id);
  }

  /** The key a job serialises on; a job without one is its own key. */
  keyFor(job: Job): string {
    return this.keyOf(job) ?? `\0${job.id}`;
  }

  add(job: Job): void {
    if (this.keyOfId.has(job.id)) return;
    const key = this.keyFor(job);
    this.keyOfId.set(job.id, key);
    let list = this.groups.get(key);
    if (!list) this.groups.set(key, (list = []));
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(list[mid]!, job) <= 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, job);
  }

  remove(id: string): void {
    const key = this.keyOfId.get(id);
    if (key === undefined) return;
    this.keyOfId.delete(id);
    const list = this.groups.get(key)!;
    // the head is what gets dispatched: shift it (V8 trims the front) rather than splice a long list
    if (list[0]!.id === id) list.shift();
    else list.splice(list.findIndex((j) => j.id === id), 1);
    if (list.length === 0) this.groups.delete(key);
  }

  /** The first job of every group whose key is not busy, in dispatch order. */
  heads(busy: ReadonlySet<string>): Array<{ job: Job; key: string }> {
    const out: Array<{ job: Job; key: string }> = [];
    for (const [key, list] of this.groups) if (!busy.has(key)) out.push({ job: list[0]!, key });
    return out.sort((a, b) => this.compare(a.job, b.job));
  }

  /** The earliest `notBefore` among the heads (when a backoff ends), or undefined. */
  nextWake(busy: ReadonlySet<string>, now: number): number | undefined {
    let at: number | undefined;
    for (const [key, list] of this.groups) {
      const nb = list[0]!.notBefore;
      if (!busy.has(key) && nb > now && (at === undefined || nb < at)) at = nb;
    }
    return at;
  }
}
