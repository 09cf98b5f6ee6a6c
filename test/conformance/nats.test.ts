import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { readStream } from '../helpers/nats-streams.js';
import { tmpDir } from '../helpers/tmp.js';
import { sinkConformance } from './suite.js';

/**
 * A real 3-node JetStream cluster; each case publishes into a fresh stream. With `failAfter` the
 * stream holds at most that many messages and refuses new ones (discard: new), so publishes fail
 * like a stream that cannot take writes, until `up()` lifts the limit.
 */
let cluster: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let stream = '';
let run = 0;

beforeAll(async () => {
  cluster = await NatsCluster.start(tmpDir('nats-conf-'));
  nc = await cluster.connect();
  jsm = await jetstreamManager(nc);
}, 120_000);
afterAll(async () => {
  await nc.close();
  await cluster.stop();
});

const nanos = (ms: number): number => ms * 1_000_000;

sinkConformance({
  type: 'nats',
  keyed: true,
  async start(_dir, { failAfter }) {
    stream = `CONF${++run}`;
    await jsm.streams.add({
      name: stream,
      subjects: [`conf${run}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: 3,
      duplicate_window: nanos(600_000),
      ...(failAfter === undefined ? {} : { max_msgs: failAfter, discard: DiscardPolicy.New }),
    });
    // a full stream refuses at once; the timeout only has to outlast a loaded machine's slow ack
    return { servers: cluster.urls, stream, subject: `conf${run}.records`, timeout_ms: 10_000 };
  },
  delivered: async () => (await readStream(nc, stream)).map((l) => (JSON.parse(l) as { n: number }).n),
  async up() {
    const info = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...info.config, max_msgs: -1 });
  },
  async stop() {},
});
