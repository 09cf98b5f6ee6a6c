// Queue core: job transitions per second for each WAL fsync policy, and start-up recovery time of
// a 100k-job state (snapshot + WAL tail). Baselines in the same run: a bare write+fdatasync loop
// of 200-byte records (one sync per record), and a bare read + JSON.parse of the same queue files.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { bareFsyncLoop, clean, repeat, reportMedian, scratch } from './lib.mjs';

const { QueueStore } = await import('../dist/queue/store.js');

const JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 20_000);
const CONCURRENCY = 1000;

/** ENQUEUE, DISPATCH, ACK for `jobs` jobs, `concurrency` operations outstanding at a time. */
async function transitions(fsync, jobs, concurrency) {
  const dir = scratch(`queue-${fsync}`);
  const store = await QueueStore.open({ dir, fsync });
  const ids = Array.from({ length: jobs }, (_, i) => `g/s-2026-11-22_10:00:00-${i}.dat`);
  const t0 = performance.now();
  const run = async (op) => {
    for (let i = 0; i < ids.length; i += concurrency) await Promise.all(ids.slice(i, i + concurrency).map(op));
  };
  await run((id) => store.enqueue(id, { key: 'g/s', rank: id }));
  await run((id) => store.transition('DISPATCH', id));
  await run((id) => store.transition('ACK', id));
  const s = (performance.now() - t0) / 1000;
  await store.close({ snapshot: false });
  clean(dir);
  return (3 * jobs) / s;
}

const bareDir = scratch('queue-bare');
for (const fsync of ['always', 'batch', 'none']) {
  for (const concurrency of fsync === 'always' ? [CONCURRENCY, 1] : [CONCURRENCY]) {
    const jobs = concurrency === 1 ? Math.min(JOBS, 2000) : JOBS;
    const rates = [];
    const bare = [];
    await repeat(async (i) => {
      const r = await transitions(fsync, jobs, concurrency);
      const b = bareFsyncLoop(bareDir, 5000, 200, 1);
      if (i >= 0) {
        rates.push(r);
        bare.push(b);
      }
    });
    reportMedian({
      bench: 'queue',
      figure: `transitions/s, fsync ${fsync}, ${concurrency} concurrent`,
      unit: 'transitions/s',
      runs: rates,
      baseline: 'bare write+fdatasync per 200 B record',
      baselineRuns: bare,
      target: fsync === 'always' && concurrency > 1 ? '>= 50000' : undefined,
    });
  }
}
clean(bareDir);

// Recovery: 100k jobs; a snapshot taken after the first 50k, the rest only in the WAL.
const RECOVER_JOBS = Number(process.env.BENCH_RECOVER_JOBS ?? 100_000);
const dir = scratch('queue-recover');
// Every completed job is kept (queue.completed_history), so the figure stays the full-state recovery it always measured.
{
  const store = await QueueStore.open({ dir, fsync: 'none', completedHistory: RECOVER_JOBS });
  const ids = Array.from({ length: RECOVER_JOBS }, (_, i) => `grp/sink-2026-11-22_10:00:00-${i}.dat`);
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    await Promise.all(chunk.map((id) => store.enqueue(id, { key: 'grp/sink', rank: id, time: 0 })));
    await Promise.all(chunk.filter((_, k) => k % 2 === 0).map((id) => store.transition('DISPATCH', id)));
    await Promise.all(chunk.filter((_, k) => k % 4 === 0).map((id) => store.transition('ACK', id)));
    if (i + 5000 === ids.length / 2) await store.snapshot();
  }
  await store.close({ snapshot: false });
}
const bytes = readdirSync(dir).reduce((a, n) => a + readFileSync(path.join(dir, n)).length, 0);
const times = [];
const bare = [];
await repeat(async (i) => {
  const t0 = performance.now();
  const store = await QueueStore.open({ dir, fsync: 'none', completedHistory: RECOVER_JOBS });
  const ms = performance.now() - t0;
  const jobs = store.jobs().length;
  if (jobs !== RECOVER_JOBS) throw new Error(`recovered ${jobs} jobs, expected ${RECOVER_JOBS}`);
  await store.close({ snapshot: false });
  const b0 = performance.now();
  for (const n of readdirSync(dir)) {
    const text = readFileSync(path.join(dir, n), 'utf8');
    if (n.startsWith('snapshot')) JSON.parse(text);
    else for (const line of text.split('\n')) if (line) JSON.parse(line);
  }
  if (i >= 0) {
    times.push(ms);
    bare.push(performance.now() - b0);
  }
});
clean(dir);
reportMedian({
  bench: 'queue',
  figure: `recovery of a ${RECOVER_JOBS}-job state (snapshot + WAL, ${(bytes / 1e6).toFixed(1)} MB)`,
  unit: 'ms',
  runs: times,
  baseline: 'bare read + JSON.parse of the same files',
  baselineRuns: bare,
  target: '<= 1000 ms',
});
