// NATS source (SPEC section 11/12): lines/s through `wparse batch` draining a backlog of
// BENCH_NATS_MSGS (default 200k) messages of 150–250 bytes from an R3 stream of a real 3-node
// cluster on 127.0.0.1, beside a bare JetStream consumer (fetch + ack, no parsing) draining the same
// backlog in the same run; then two hosts sharing one consumer. Each reader has its own durable
// consumer on the one stream (limits retention), so the backlog is published once.
// Needs nats-server on PATH (or /usr/sbin): `apt-get install -y nats-server`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { DIST, RULES, clean, median, repeat, reportMedian, scratch, writeFile } from './lib.mjs';

const MSGS = Number(process.env.BENCH_NATS_MSGS ?? 200_000);
const BATCH = 512;

function natsServer() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  const bin = dirs.map((d) => path.join(d, 'nats-server')).find((f) => existsSync(f));
  if (!bin) throw new Error('nats-server not found: apt-get install -y nats-server');
  return bin;
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startCluster(dir) {
  const bin = natsServer();
  const nodes = [];
  for (let i = 1; i <= 3; i++) nodes.push({ name: `n${i}`, client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routes = nodes.map((n) => `nats-route://127.0.0.1:${n.route}`).join(', ');
  const procs = nodes.map((n) => {
    const store = path.join(dir, 'store', n.name);
    mkdirSync(store, { recursive: true });
    const conf = path.join(dir, `${n.name}.conf`);
    writeFileSync(conf, `server_name: ${n.name}\nlisten: 127.0.0.1:${n.client}\nhttp: 127.0.0.1:${n.monitor}\njetstream { store_dir: "${store}" }\ncluster { name: b, listen: 127.0.0.1:${n.route}, routes: [${routes}] }\n`);
    return spawn(bin, ['-c', conf], { stdio: 'ignore' });
  });
  for (const n of nodes) {
    for (;;) {
      const ok = await globalThis.fetch(`http://127.0.0.1:${n.monitor}/jsz`).then((r) => r.json()).then((j) => Boolean(j.meta_cluster?.leader)).catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { urls: nodes.map((n) => `nats://127.0.0.1:${n.client}`), stop: () => procs.forEach((p) => p.kill('SIGTERM')) };
}

function line(i) {
  const head = `seq=${String(i).padStart(10, '0')} level=${['info', 'warn', 'error', 'debug'][i & 3]} msg=`;
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(6).slice(0, 150 + ((i * 7919) % 101) - head.length - 1);
}

async function publishBacklog(nc) {
  const js = jetstream(nc, { timeout: 10_000 });
  let next = 0;
  const lane = async () => {
    while (next < MSGS) {
      const i = next++;
      await js.publish('bench.lines', line(i), { msgID: `m${i}` });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 256 }, lane));
  return MSGS / ((performance.now() - t0) / 1000);
}

/** The baseline: fetch batches of BATCH and ack each message, until a fetch comes back empty. */
async function bareConsumer(nc, durable) {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add('BENCH', { durable_name: durable, ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_ack_pending: 20_000 });
  const c = await jetstream(nc).consumers.get('BENCH', durable);
  let n = 0;
  const t0 = performance.now();
  for (;;) {
    let got = 0;
    for await (const m of await c.fetch({ max_messages: BATCH, expires: 1000 })) {
      m.ack();
      got++;
    }
    n += got;
    if (got === 0) break;
  }
  await nc.flush();
  if (n !== MSGS) throw new Error(`bare consumer read ${n} of ${MSGS}`);
  return n / ((performance.now() - t0) / 1000);
}

function hostRoot(dir, urls, consumer) {
  writeFile(path.join(dir, 'conf/wparse.yaml'), 'version: 1\nlog: { level: warn }\n');
  writeFile(path.join(dir, 'conf/wpsrc.yaml'), `sources:\n  - key: bus\n    type: nats\n    params: { servers: [${urls.join(', ')}], stream: BENCH, subject: bench.lines, consumer: ${consumer}, batch: ${BATCH} }\n`);
  writeFile(path.join(dir, 'models/rules/bench.yaml'), RULES);
  writeFile(path.join(dir, 'sink/connectors.d/00.yaml'), 'connectors:\n  - id: out\n    type: file\n    params: { file: out.json, fmt: json }\n');
  writeFile(path.join(dir, 'sink/business.d/bench.yaml'), 'group:\n  name: bench\n  rule: ["/bench/*"]\n  sinks:\n    - name: out\n      connect: out\n');
  return dir;
}

/** `wparse batch` on each root at once; returns lines/s of all of them together (until the last exits). */
async function hosts(roots) {
  const t0 = performance.now();
  const lines = await Promise.all(
    roots.map(
      (root) =>
        new Promise((resolve, reject) => {
          const c = spawn(process.execPath, [path.join(DIST, 'cli', 'wparse.js'), 'batch', '-w', root], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (out += d));
          c.on('close', (code) => (code === 0 ? resolve(Number(/done: (\d+) lines/.exec(out)?.[1] ?? 0)) : reject(new Error(`wparse exited ${code}: ${out}`))));
        }),
    ),
  );
  const total = lines.reduce((a, b) => a + b, 0);
  if (total < MSGS) throw new Error(`hosts read ${total} of ${MSGS}`);
  return { rate: MSGS / ((performance.now() - t0) / 1000), lines };
}

const dir = scratch('nats');
const cluster = await startCluster(dir);
try {
  const nc = await connect({ servers: cluster.urls });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.lines'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: nanos(120_000) });
  const pubRate = await publishBacklog(nc);
  console.error(`bench nats: backlog of ${MSGS} published at ${Math.round(pubRate)} msg/s`);
  const one = [];
  const bare = [];
  const two = [];
  const split = [];
  await repeat(
    async (i) => {
      bare.push(await bareConsumer(nc, `bare${i}`));
      one.push((await hosts([hostRoot(path.join(dir, `one-${i}`), cluster.urls, `one${i}`)])).rate);
      const r = await hosts([hostRoot(path.join(dir, `twoa-${i}`), cluster.urls, `two${i}`), hostRoot(path.join(dir, `twob-${i}`), cluster.urls, `two${i}`)]);
      two.push(r.rate);
      split.push(r.lines.join('/'));
    },
    { warm: false, runs: Number(process.env.BENCH_RUNS ?? 1) },
  );
  await nc.close();
  const common = { unit: 'lines/s', baseline: 'bare JetStream consumer: fetch 512 + ack, no parsing, same backlog', baselineRuns: bare };
  reportMedian({ bench: 'nats', figure: `one wparse host draining ${MSGS} NATS messages → rule → json file sink (whole process)`, runs: one, target: 'ratio >= 0.7', ...common });
  reportMedian({ bench: 'nats', figure: `two wparse hosts sharing one consumer, ${MSGS} messages (split ${split.join(', ')})`, runs: two, target: 'more than one host', ...common });
  console.error(`bench nats: bare ${bare.map(Math.round)}, one host ${one.map(Math.round)}, two hosts ${two.map(Math.round)} (median ratio ${(median(one) / median(bare)).toFixed(2)})`);
} finally {
  cluster.stop();
  clean(dir);
}
