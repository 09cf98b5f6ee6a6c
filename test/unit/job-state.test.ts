import { describe, expect, it } from 'vitest';
import { isWrError } from '../../src/errors.js';
import { applyEvent, EVENT_TYPES, TRANSITIONS, type Job, type JobState } from '../../src/queue/job-state.js';

const STATES: Array<JobState | 'absent'> = ['absent', 'pending', 'in_flight', 'completed', 'dead'];

function jobsIn(state: JobState | 'absent'): Map<string, Job> {
  const m = new Map<string, Job>();
  if (state !== 'absent') m.set('j', { id: 'j', state, attempt: 0, data: {}, notBefore: 0, dispatchedAt: 0, updatedAt: 0 });
  return m;
}

describe('job transition table', () => {
  for (const type of EVENT_TYPES) {
    for (const from of STATES) {
      const legal = TRANSITIONS[type].from.includes(from);
      it(`${type} from ${from} is ${legal ? `allowed and leads to ${TRANSITIONS[type].to}` : 'illegal and throws'}`, () => {
        const jobs = jobsIn(from);
        const ev = { seq: 1, type, job: 'j', ts: 5, data: {} };
        if (legal) {
          applyEvent(jobs, ev);
          expect(jobs.get('j')!.state).toBe(TRANSITIONS[type].to);
        } else {
          let caught: unknown;
          try {
            applyEvent(jobs, ev);
          } catch (err) {
            caught = err;
          }
          expect(isWrError(caught, 'JOB_ILLEGAL_TRANSITION')).toBe(true);
        }
      });
    }
  }

  it('RETRY counts an attempt and sets notBefore; TIMEOUT does not count one', () => {
    const jobs = jobsIn('in_flight');
    applyEvent(jobs, { seq: 1, type: 'RETRY', job: 'j', ts: 10, data: { notBefore: 500, error: 'down' } });
    expect(jobs.get('j')).toMatchObject({ state: 'pending', attempt: 1, notBefore: 500, lastError: 'down' });
    applyEvent(jobs, { seq: 2, type: 'DISPATCH', job: 'j', ts: 600, data: {} });
    applyEvent(jobs, { seq: 3, type: 'TIMEOUT', job: 'j', ts: 700, data: {} });
    expect(jobs.get('j')).toMatchObject({ state: 'pending', attempt: 1 });
  });
});
