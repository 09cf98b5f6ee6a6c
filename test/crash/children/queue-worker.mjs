// Crash-test child: runs jobs job-0..job-(N-1) on the queue core with fsync: always and prints
// "ACK <id>" once each ACK is on disk. The parent SIGKILLs it at random moments and restarts it.
import { QueueController } from '../../../dist/queue/controller.js';
import { QueueStore } from '../../../dist/queue/store.js';

const [dir, n] = [process.argv[2], Number(process.argv[3])];
const store = await QueueStore.open({ dir, fsync: 'always' });
for (let i = 0; i < n; i++) {
  const j = store.get(`job-${i}`);
  if (!j) await store.enqueue(`job-${i}`, { i });
}
const controller = new QueueController({
  store,
  workers: 4,
  maxRetry: 100,
  taskTimeoutMs: 60_000,
  snapshotIntervalMs: 30,
  backoff: { initialMs: 1, maxMs: 5, jitter: 0 },
  handler: {
    async run() {
      await new Promise((r) => setTimeout(r, Math.random() * 4));
      if (Math.random() < 0.1) throw new Error('flaky');
    },
  },
  onCompleted: (job) => process.stdout.write(`ACK ${job.id}\n`),
});
controller.start();
await controller.whenIdle();
await controller.stop();
process.stdout.write('DONE\n');
