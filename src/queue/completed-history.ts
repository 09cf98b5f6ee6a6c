import type { Job } from './job-state.js';

/** Default of `queue.completed_history`. */
export const DEFAULT_COMPLETED_HISTORY = 1000;

/**
 * Keeps only the most recent `limit` completed jobs in the job map, so memory and every snapshot
 * stay bounded by the work in hand rather than by the number of files ever replayed. Pending,
 * in-flight and dead jobs are never dropped (a dead job stays until it is requeued, its file being
 * in quarantine). Dropping a completed job is safe because its next event can only be an ENQUEUE,
 * which the transition table allows from `absent` as from `completed`; and a completed job's file
 * is gone (deleted before its ACK), so no rescan brings it back. Order is completion order, and
 * it survives a restart: a job that completes is moved to the end of the job map, so snapshots list
 * completed jobs in the order they completed, and a rebuild drops exactly what the run dropped.
 */
export class CompletedHistory {
  private readonly order = new Set<string>();

  constructor(private readonly limit: number) {}

  /** Seeds the order from a job map (its completed jobs in map order) and prunes it. */
  static of(jobs: Map<string, Job>, limit: number): { history: CompletedHistory; pruned: number } {
    const history = new CompletedHistory(limit);
    for (const j of jobs.values()) if (j.state === 'completed') history.order.add(j.id);
    return { history, pruned: history.prune(jobs) };
  }

  get size(): number {
    return this.order.size;
  }

  /** Call after an event on `id` was applied; returns how many completed jobs were dropped. */
  noteApplied(jobs: Map<string, Job>, id: string): number {
    this.order.delete(id);
    const job = jobs.get(id);
    if (job?.state !== 'completed') return 0;
    this.order.add(id); // the newest end, here and in the job map (so in snapshots)
    jobs.delete(id);
    jobs.set(id, job);
    return this.prune(jobs);
  }

  private prune(jobs: Map<string, Job>): number {
    let pruned = 0;
    for (const id of this.order) {
      if (this.order.size <= this.limit) break;
      this.order.delete(id);
      jobs.delete(id);
      pruned++;
    }
    return pruned;
  }
}
