import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type RunningChild } from '../helpers/child.js';
import { bin, cli } from '../helpers/cli.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { freePort } from '../helpers/net.js';
import { publishLines, readStream, steadyProducer } from '../helpers/nats-streams.js';
import { outputNs } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

let cluster: NatsCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const line = (i: number): string => `id=${i} level=info msg=hello ${i}`;
const lines = (n: number): string[] => Array.from({ length: n }, (_, i) => line(i));

/** Polls an async or file-reading condition every 100 ms (the state lives in other processes). */
async function eventually(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface HostOpts {
  urls: string[];
  ackWaitMs?: number;
  batch?: number;
  /** Also publish every record to stream OUT (a nats sink, keyed by record id). */
  natsSink?: boolean;
  metricsPort?: number;
}

/** A wparse work root reading stream IN through the shared durable consumer `wparse`. */
function host(o: HostOpts): string {
  const servers = `[${o.urls.join(', ')}]`;
  const sinks =
    '    - name: main\n      connect: file_json\n      params: { file: app.json }\n' +
    (o.natsSink ? '    - name: bus\n      connect: nats_out\n' : '');
  const root = makeWorkRoot(tmpDir('nats-host-'), {
    engine: `version: 1\nrescue: { durability: fsync }\n${o.metricsPort ? `metrics: { wparse: { listen: "127.0.0.1:${o.metricsPort}" } }\n` : ''}`,
    connectors:
      'connectors:\n  - id: file_json\n    type: file\n    params: { base: ./data/out_dat, file: out.json, fmt: json }\n    allow_override: [file]\n' +
      `  - id: nats_out\n    type: nats\n    params: { servers: ${servers}, stream: OUT, subject: out.records, timeout_ms: 2000 }\n`,
    groups: { app: `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n${sinks}` },
  });
  writeFileSync(
    path.join(root, 'conf', 'wpsrc.yaml'),
    `sources:\n  - key: bus\n    type: nats\n    params: { servers: ${servers}, stream: IN, subject: in.lines, consumer: wparse, ` +
      `batch: ${o.batch ?? 200}, ack_wait_ms: ${o.ackWaitMs ?? 30000}, max_ack_pending: 5000 }\n`,
  );
  return root;
}

const appNs = (root: string): number[] => outputNs(path.join(root, 'data', 'out_dat', 'app.json'));
const logOf = (root: string): string => {
  const f = path.join(root, 'data', 'logs', 'wparse.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

async function startHosts(roots: string[]): Promise<RunningChild[]> {
  const hosts = roots.map((r) => startNode(bin('wparse'), ['daemon', '-w', r]));
  await eventually('hosts started', () => roots.every((r) => logOf(r).includes('source started')), 30_000);
  return hosts;
}

/** Every n of 0..count-1 is present; returns how many extra copies there are. */
function expectAllOnce(ns: number[], count: number): number {
  const seen = new Set(ns);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  expect(missing.slice(0, 10), `${missing.length} lost`).toEqual([]);
  expect(ns.every((n) => n >= 0 && n < count)).toBe(true);
  return ns.length - seen.size;
}

async function stopHost(h: RunningChild): Promise<void> {
  h.child.kill('SIGTERM');
  const { code } = await h.exit;
  expect(code, h.stderr()).toBe(0);
}

describe('nats source: many wparse hosts on one stream', () => {
  it('a cluster that is not up is said on the terminal once, not only in the log (it looked like a hang); SIGTERM still stops cleanly', async () => {
    const port = await freePort(); // nothing listens there
    const root = host({ urls: [`nats://127.0.0.1:${port}`] });
    const run = startNode(bin('wparse'), ['batch', '-w', root]);
    await eventually('terminal line', () => run.stderr().includes('nats source bus: connect failed'), 30_000);
    await eventually('second attempt logged', () => (logOf(root).match(/nats connect failed: retrying/g) ?? []).length >= 2, 30_000);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(run.stderr().match(/nats source bus: connect failed/g)).toHaveLength(1);
  });

  it('two hosts share the work and their sinks hold every published line exactly once', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const roots = [host({ urls: cluster.urls }), host({ urls: cluster.urls })];
    const init = cli('wproj', ['nats', 'init', '-w', roots[0]!]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/stream IN created \(subjects in\.lines, replicas 3/);
    expect(cli('wproj', ['nats', 'init', '-w', roots[1]!]).stdout).toMatch(/stream IN exists/);
    const hosts = await startHosts(roots);
    const nc = await cluster.connect();
    // a steady flow until both hosts have written some: under load, one host's first pull has been
    // seen answered late, and a fixed burst of 10k lines (under a second) drained by the other alone
    const producer = steadyProducer(nc, 'in.lines', line);
    await eventually('both hosts deliver', () => roots.every((r) => appNs(r).length > 0) && producer.published() >= 10_000);
    const N = await producer.stop();
    await eventually('every line delivered', () => appNs(roots[0]!).length + appNs(roots[1]!).length >= N);
    for (const h of hosts) await stopHost(h);
    const [a, b] = roots.map(appNs) as [number[], number[]];
    expect(expectAllOnce([...a, ...b], N)).toBe(0);
    const jsm = await jetstreamManager(nc);
    await eventually('consumer fully acked', async () => {
      const ci = await jsm.consumers.info('IN', 'wparse');
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    }, 10_000);
    await nc.close();
  }, 120_000);

  it('fails clearly without the stream; uses an existing consumer unchanged, warning of each difference; wparse batch ends when the stream is drained', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const root = host({ urls: cluster.urls });
    const early = cli('wparse', ['batch', '-w', root]);
    expect(early.code, 'no stream yet').toBe(3);
    expect(early.stdout + early.stderr).toContain('stream IN does not exist (create it with `wproj nats init`)');
    expect(cli('wproj', ['nats', 'init', '-w', root]).code).toBe(0);
    const nc = await cluster.connect();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add('IN', { durable_name: 'wparse', ack_policy: AckPolicy.Explicit, ack_wait: nanos(10_000), max_ack_pending: 1000, filter_subject: 'in.lines' });
    await publishLines(nc, 'in.lines', lines(1000));
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(new Set(appNs(root)).size).toBe(1000);
    expect(expectAllOnce(appNs(root), 1000)).toBe(0);
    const warn = logOf(root).split('\n').find((l) => l.includes('nats consumer exists with other settings'));
    expect(warn).toMatch(/ack_wait: has 10000000000, config says 30000000000/);
    expect(warn).toMatch(/max_ack_pending: has 1000, config says 5000/);
    const ci = await jsm.consumers.info('IN', 'wparse');
    expect(ci.config.ack_wait).toBe(nanos(10_000));
    await nc.close();
  }, 120_000);

  it('a host that stops early (-n) naks what it fetched and did not commit: the next host gets it at once, not after ack_wait', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const root = host({ urls: cluster.urls, ackWaitMs: 60_000, batch: 200 });
    expect(cli('wproj', ['nats', 'init', '-w', root]).code).toBe(0);
    const nc = await cluster.connect();
    await publishLines(nc, 'in.lines', lines(1000));
    await nc.close();
    const first = cli('wparse', ['batch', '-n', '300', '-w', root]);
    expect(first.code, first.stderr).toBe(0);
    expect(appNs(root)).toHaveLength(300);
    const t0 = Date.now();
    const rest = cli('wparse', ['batch', '-w', root]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(Date.now() - t0, 'no wait for ack_wait (60 s)').toBeLessThan(30_000);
    expect(expectAllOnce(appNs(root), 1000)).toBe(0);
  }, 120_000);

  it('kill -9 of the stream leader node mid-run, then restart: no line lost', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const metricsPort = await freePort();
    const root = host({ urls: cluster.urls, metricsPort });
    expect(cli('wproj', ['nats', 'init', '-w', root]).code).toBe(0);
    const [h] = await startHosts([root]);
    const nc = await cluster.connect();
    // publishing goes on through the kill (a fixed burst could be drained before it)
    const producer = steadyProducer(nc, 'in.lines', line);
    await eventually('some delivered', () => appNs(root).length >= 3000);
    const leader = await cluster.streamLeader('IN');
    await cluster.kill(leader);
    const before = appNs(root).length;
    await eventually('progress with the leader dead', () => appNs(root).length >= before + 1000);
    await cluster.restart(leader);
    const N = await producer.stop();
    await eventually('every line delivered', () => new Set(appNs(root)).size >= N, 90_000);
    const redelivered = Number(/^wparse_nats_redelivered_total\{source="bus"\} (\d+)/m.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1] ?? 0);
    await stopHost(h!);
    const dups = expectAllOnce(appNs(root), N);
    // a publish retried across the leader change may be stored twice (its id not yet in the new
    // leader's duplicate window): such a line is two messages, delivered twice without a redelivery
    const stored = (await readStream(nc, 'IN')).map((l) => /^id=(\d+) /.exec(l)![1]);
    const storedTwice = stored.length - new Set(stored).size;
    // acks lost with the killed node come back as redeliveries: every other duplicate is one of them
    expect(dups).toBeLessThanOrEqual(redelivered + storedTwice);
    await nc.close();
  }, 150_000);

  it('kill -9 of one wparse host holding unacked messages: the other gets them after ack_wait, nothing lost, no duplicate in the nats sink', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const batch = 200;
    const metricsPort = await freePort();
    const roots = [host({ urls: cluster.urls, ackWaitMs: 2000, batch, natsSink: true }), host({ urls: cluster.urls, ackWaitMs: 2000, batch, natsSink: true, metricsPort })];
    expect(cli('wproj', ['nats', 'init', '-w', roots[0]!]).code).toBe(0);
    const nc = await cluster.connect();
    const jsm = await jetstreamManager(nc);
    const producer = steadyProducer(nc, 'in.lines', line);
    // A alone first, so the consumer's unacked count is A's: freeze it, and kill it only while it
    // holds messages (a host frozen with none in hand is let go on and frozen again)
    const [a] = await startHosts([roots[0]!]);
    await eventually('host A has delivered some', () => appNs(roots[0]!).length >= 500);
    let held = -1;
    await eventually('host A frozen with messages in hand', async () => {
      a!.child.kill('SIGSTOP');
      const now = (await jsm.consumers.info('IN', 'wparse')).num_ack_pending;
      if (now === 0) {
        a!.child.kill('SIGCONT');
        held = -1;
        return false;
      }
      // the same count one poll later: acks A sent just before the stop have reached the server
      const settled = now === held;
      held = now;
      return settled;
    });
    a!.child.kill('SIGKILL');
    await a!.exit;
    const [b] = await startHosts([roots[1]!]);
    await eventually('host B goes on with new lines', () => appNs(roots[1]!).length >= held + 500);
    const N = await producer.stop();
    await eventually('every line delivered', () => new Set([...appNs(roots[0]!), ...appNs(roots[1]!)]).size >= N, 90_000);
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return Number(new RegExp(`^${name}\\{source="bus"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    await eventually('every record of B acked', async () => (await metric('wparse_nats_acked_total')) === appNs(roots[1]!).length, 10_000);
    // acks A sent just before its stop may still reach the stream after the count was read, so
    // fewer than `held` may come back; but some must, and every duplicate below is one of them
    const redelivered = await metric('wparse_nats_redelivered_total');
    expect(redelivered, "A's unacked messages came to B").toBeGreaterThan(0);
    expect(await metric('wparse_nats_fetched_total')).toBeGreaterThanOrEqual(appNs(roots[1]!).length);
    expect(await metric('wparse_nats_pending')).toBe(0);
    await stopHost(b!);
    const dups = expectAllOnce([...appNs(roots[0]!), ...appNs(roots[1]!)], N);
    expect(dups, 'file sink: at most what A held at the kill').toBeLessThanOrEqual(held);
    expect(dups, 'file sink: only redelivered messages come twice').toBeLessThanOrEqual(redelivered);
    const out = (await readStream(nc, 'OUT')).map((l) => (JSON.parse(l) as { n: number }).n);
    expect(expectAllOnce(out, N), 'nats sink: duplicates dropped by Nats-Msg-Id').toBe(0);
    expect(out).toHaveLength(N);
    await nc.close();
  }, 150_000);
});
