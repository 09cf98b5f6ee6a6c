import { freePort } from './net.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsServerBinary } from './nats-install.js';

interface NodeSpec {
  name: string;
  client: number;
  route: number;
  monitor: number;
  conf: string;
  log: string;
}

const live = new Set<ChildProcess>();
// a test run that dies must not leave servers behind
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});


async function poll(what: string, cond: () => Promise<boolean>, ms: number, fatal?: () => string | undefined): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const why = fatal?.();
    if (why) throw new Error(`nats cluster: ${why} while waiting for ${what}`);
    if (await cond().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`nats cluster: ${what} not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  if (!res.ok) return undefined;
  return (await res.json()) as Record<string, unknown>;
}

/**
 * A real 3-node JetStream cluster on 127.0.0.1: random free ports for clients, routes and
 * monitoring, one store directory per node under `dir`. Nodes are stopped by PID; one can be
 * killed with SIGKILL and restarted on the same ports and store, as a crashed server would be.
 */
export class NatsCluster {
  private readonly nodes: NodeSpec[] = [];
  private readonly procs: Array<ChildProcess | undefined> = [];

  private constructor(private readonly dir: string) {}

  /**
   * Starts the cluster and waits until every node is healthy and a meta leader is elected. A
   * start that fails (a node that exits at once, or no leader in time) is retried twice on fresh
   * ports and stores; the last failure names each node's last log lines.
   */
  static async start(dir: string, size = 3): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = await NatsCluster.spawn(path.join(dir, `try${attempt}`), size);
      try {
        await c.ready();
        return c;
      } catch (err) {
        await c.killAll();
        if (attempt >= 3) throw new Error(`${(err as Error).message}\n${c.logTails()}`, { cause: err });
        rmSync(path.join(dir, `try${attempt}`), { recursive: true, force: true });
      }
    }
  }

  private static async spawn(dir: string, size: number): Promise<NatsCluster> {
    const bin = natsServerBinary();
    const c = new NatsCluster(dir);
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      c.nodes.push({ name, client: await freePort(), route: await freePort(), monitor: await freePort(), conf: path.join(dir, `${name}.conf`), log: path.join(dir, `${name}.log`) });
    }
    const routes = c.nodes.map((n) => `nats-route://127.0.0.1:${n.route}`).join(', ');
    for (const n of c.nodes) {
      const store = path.join(dir, 'store', n.name);
      mkdirSync(store, { recursive: true });
      writeFileSync(
        n.conf,
        `server_name: ${n.name}\nlisten: 127.0.0.1:${n.client}\nhttp: 127.0.0.1:${n.monitor}\n` +
          `jetstream { store_dir: "${store}", max_memory_store: 64MB, max_file_store: 4GB }\n` +
          `cluster { name: wr, listen: 127.0.0.1:${n.route}, routes: [${routes}] }\n`,
      );
    }
    c.procs.push(...c.nodes.map((n) => c.spawnNode(n, bin)));
    return c;
  }

  /** Each node's last log lines, for a failure message. */
  private logTails(): string {
    return this.nodes.map((n) => {
      let text: string;
      try {
        text = readFileSync(n.log, 'utf8');
      } catch {
        text = '(no log)';
      }
      return `--- ${n.name} ---\n${text.trim().split('\n').slice(-8).join('\n')}`;
    }).join('\n');
  }

  get urls(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.client}`);
  }

  get names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  pid(i: number): number | undefined {
    return this.procs[i]?.pid;
  }

  private spawnNode(n: NodeSpec, bin = natsServerBinary()): ChildProcess {
    const fd = openSync(n.log, 'a');
    const p = spawn(bin, ['-c', n.conf], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(p);
    p.once('exit', () => live.delete(p));
    return p;
  }

  /** Every running node answers /healthz ok and reports a JetStream meta leader. */
  async ready(ms = 30_000): Promise<void> {
    const up = this.nodes.filter((_, i) => this.procs[i]);
    const exited = (): string | undefined => {
      const gone = this.procs.findIndex((p) => p && (p.exitCode !== null || p.signalCode !== null));
      return gone >= 0 ? `node ${this.nodes[gone]!.name} exited` : undefined;
    };
    await poll('healthy nodes with a meta leader', async () => {
      for (const n of up) {
        const h = await getJson(`http://127.0.0.1:${n.monitor}/healthz`);
        if (h?.status !== 'ok') return false;
        const jsz = await getJson(`http://127.0.0.1:${n.monitor}/jsz`);
        const meta = jsz?.meta_cluster as { leader?: string } | undefined;
        if (!meta?.leader) return false;
      }
      return true;
    }, ms, exited);
  }

  /** The node index of a stream's leader. */
  async streamLeader(stream: string): Promise<number> {
    const nc = await this.connect();
    try {
      const jsm = await jetstreamManager(nc);
      const leader = (await jsm.streams.info(stream)).cluster?.leader;
      const i = this.names.indexOf(String(leader));
      if (i < 0) throw new Error(`stream ${stream} has no leader (${String(leader)})`);
      return i;
    } finally {
      await nc.close();
    }
  }

  connect(): Promise<NatsConnection> {
    return connect({ servers: this.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  }

  /** SIGKILL one node, as a crash would. */
  async kill(i: number): Promise<void> {
    await this.signal(i, 'SIGKILL');
  }

  /** Starts a stopped or killed node again on its ports and store; waits until the cluster is ready. */
  async restart(i: number): Promise<void> {
    if (this.procs[i]) throw new Error(`node ${i} is running`);
    this.procs[i] = this.spawnNode(this.nodes[i]!);
    await this.ready(60_000);
  }

  /** Stops every node (SIGKILL), keeping the stores. */
  async killAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.signal(i, 'SIGKILL')));
  }

  /** Starts every stopped node; a cluster restarted with data takes several seconds to be ready. */
  async restartAll(): Promise<void> {
    this.nodes.forEach((n, i) => {
      this.procs[i] ??= this.spawnNode(n);
    });
    await this.ready(60_000);
  }

  /** Graceful stop of every node (SIGTERM, SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.signal(i, 'SIGTERM')));
  }

  private async signal(i: number, sig: NodeJS.Signals): Promise<void> {
    const p = this.procs[i];
    this.procs[i] = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(sig);
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}
