import { WrError } from '../errors.js';

/**
 * Job states and the one table of legal transitions. Every WAL event names a transition; the same
 * pure `applyEvent` reducer updates memory at run time and rebuilds it from snapshot + WAL at start.
 */
export type JobState = 'pending' | 'in_flight' | 'completed' | 'dead';
export type EventType = 'ENQUEUE' | 'DISPATCH' | 'ACK' | 'RETRY' | 'TIMEOUT' | 'DEAD';
export const EVENT_TYPES: readonly EventType[] = ['ENQUEUE', 'DISPATCH', 'ACK', 'RETRY', 'TIMEOUT', 'DEAD'];

/** `from` states allowed for each event (`absent` = job not known yet), and the state it leads to. */
export const TRANSITIONS: Record<EventType, { from: ReadonlyArray<JobState | 'absent'>; to: JobState }> = {
  // Re-enqueueing a dead job is `requeue --dead`; a completed one, a file that came back. `absent`
  // also covers a completed job already dropped from the bounded history (completed-history.ts).
  ENQUEUE: { from: ['absent', 'dead', 'completed'], to: 'pending' },
  DISPATCH: { from: ['pending'], to: 'in_flight' },
  ACK: { from: ['in_flight'], to: 'completed' },
  RETRY: { from: ['in_flight'], to: 'pending' },
  // In flight too long, or requeued at shutdown/start-up: back to pending without using an attempt.
  TIMEOUT: { from: ['in_flight'], to: 'pending' },
  DEAD: { from: ['pending', 'in_flight'], to: 'dead' },
};

export interface Job {
  id: string;
  state: JobState;
  /** Failed attempts so far. */
  attempt: number;
  /** Caller's payload, set at ENQUEUE (for replay jobs: sink key and order rank). */
  data: Record<string, unknown>;
  /** Not dispatched before this time (ms), for retry backoff. */
  notBefore: number;
  dispatchedAt: number;
  updatedAt: number;
  lastError?: string;
}

export interface QueueEvent {
  seq: number;
  type: EventType;
  job: string;
  ts: number;
  data: Record<string, unknown>;
}

export function checkTransition(type: EventType, job: Job | undefined, jobId: string): JobState {
  const rule = TRANSITIONS[type];
  const from = job ? job.state : 'absent';
  if (!rule.from.includes(from)) {
    throw new WrError('JOB_ILLEGAL_TRANSITION', `job ${jobId}: ${type} is not allowed from ${from}`);
  }
  return rule.to;
}

/** Applies one event to the job map. Throws JOB_ILLEGAL_TRANSITION for an event the table forbids. */
export function applyEvent(jobs: Map<string, Job>, ev: QueueEvent): void {
  const job = jobs.get(ev.job);
  const to = checkTransition(ev.type, job, ev.job);
  const errorText = typeof ev.data.error === 'string' ? ev.data.error : undefined;
  switch (ev.type) {
    case 'ENQUEUE':
      jobs.set(ev.job, {
        id: ev.job,
        state: to,
        attempt: 0,
        data: (ev.data.payload as Record<string, unknown> | undefined) ?? job?.data ?? {},
        notBefore: 0,
        dispatchedAt: 0,
        updatedAt: ev.ts,
      });
      return;
    case 'DISPATCH':
      Object.assign(job!, { state: to, dispatchedAt: ev.ts, updatedAt: ev.ts });
      return;
    case 'RETRY':
      Object.assign(job!, {
        state: to,
        attempt: job!.attempt + 1,
        notBefore: typeof ev.data.notBefore === 'number' ? ev.data.notBefore : ev.ts,
        updatedAt: ev.ts,
        lastError: errorText,
      });
      return;
    case 'TIMEOUT':
      Object.assign(job!, { state: to, notBefore: ev.ts, updatedAt: ev.ts });
      return;
    case 'ACK':
    case 'DEAD':
      Object.assign(job!, { state: to, updatedAt: ev.ts, ...(errorText ? { lastError: errorText } : {}) });
      return;
  }
}

export function countByState(jobs: Iterable<Job>): Record<JobState, number> {
  const counts: Record<JobState, number> = { pending: 0, in_flight: 0, completed: 0, dead: 0 };
  for (const j of jobs) counts[j.state]++;
  return counts;
}
