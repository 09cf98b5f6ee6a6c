import { readdirSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobState } from '../../src/queue/job-state.js';
import { QueueStore } from '../../src/queue/store.js';
import { parseWalName } from '../../src/queue/wal/segment-name.js';
import { tmpDir } from '../helpers/tmp.js';

const HISTORY = 2;

type Op = { kind: 'enqueue' | 'dispatch' | 'ack' | 'retry' | 'timeout' | 'dead' | 'snapshot'; job: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('enqueue', 'dispatch', 'ack', 'retry', 'timeout', 'dead', 'snapshot'),
  job: fc.integer({ min: 0, max: 4 }),
});

const legalFrom: Record<Exclude<Op['kind'], 'snapshot'>, Array<JobState | undefined>> = {
  enqueue: [undefined, 'dead', 'completed'],
  dispatch: ['pending'],
  ack: ['in_flight'],
  retry: ['in_flight'],
  timeout: ['in_flight'],
  dead: ['pending', 'in_flight'],
};
const next: Record<Exclude<Op['kind'], 'snapshot'>, JobState> = {
  enqueue: 'pending', dispatch: 'in_flight', ack: 'completed', retry: 'pending', timeout: 'pending', dead: 'dead',
};

function lastSegment(dir: string): string {
  const segs = readdirSync(dir).filter((n) => parseWalName(n) !== undefined).sort();
  return path.join(dir, segs[segs.length - 1]!);
}

describe('queue core under random operations and a crash', () => {
  it('recovers exactly the state of the acknowledged operations (in-flight requeued, only the last completed jobs kept)', async () => {
    const base = tmpDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), opArb, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), async (ops, lastOp, cutAt) => {
        const dir = path.join(base, String(run++));
        const store = await QueueStore.open({ dir, fsync: 'none', completedHistory: HISTORY });
        const model = new Map<string, JobState>();
        const completedOrder: string[] = [];
        const apply = async (op: Op): Promise<boolean> => {
          const id = `job-${op.job}`;
          if (op.kind === 'snapshot') {
            await store.snapshot();
            return false;
          }
          if (!legalFrom[op.kind].includes(model.get(id))) return false;
          if (op.kind === 'enqueue') await store.enqueue(id, { n: op.job });
          else {
            const type = ({ dispatch: 'DISPATCH', ack: 'ACK', retry: 'RETRY', timeout: 'TIMEOUT', dead: 'DEAD' } as const)[op.kind];
            await store.transition(type, id);
          }
          model.set(id, next[op.kind]);
          // the bounded history: only the last HISTORY completed jobs are kept, in completion order
          if (completedOrder.includes(id)) completedOrder.splice(completedOrder.indexOf(id), 1);
          if (next[op.kind] === 'completed') completedOrder.push(id);
          while (completedOrder.length > HISTORY) model.delete(completedOrder.shift()!);
          return true;
        };
        for (const op of ops) await apply(op);
        // One more operation, then a crash that tears its record somewhere before its end.
        const seg = lastSegment(dir);
        const before = statSync(seg).size;
        const expected = new Map(model);
        const expectedOrder = [...completedOrder];
        const applied = await apply(lastOp);
        // the process "dies": its descriptors go (closing writes nothing), then the record is torn
        await store.close({ snapshot: false });
        if (applied) {
          const after = statSync(seg).size;
          truncateSync(seg, before + Math.floor(cutAt * (after - before)));
        }
        const reopened = await QueueStore.open({ dir, fsync: 'none', completedHistory: HISTORY });
        const got = new Map(reopened.jobs().map((j) => [j.id, j.state]));
        for (const [id, st] of expected) if (st === 'in_flight') expected.set(id, 'pending');
        expect(got).toEqual(expected);
        // and it goes on dropping the jobs the run would have: complete every pending job
        for (const [id, st] of expected) {
          if (st !== 'pending') continue;
          await reopened.transition('DISPATCH', id);
          await reopened.transition('ACK', id);
          expectedOrder.push(id);
        }
        expect(reopened.jobs().filter((j) => j.state === 'completed').map((j) => j.id)).toEqual(expectedOrder.slice(-HISTORY));
        await reopened.close({ snapshot: false });
      }),
      { numRuns: 150 },
    );
  });
});
