import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSocketQueues } from '../../src/sinks/tcp/kernel-queues.js';
import { bin } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { compareNs, rescueFilesIn } from '../helpers/outputs.js';
import { range } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

/**
 * The moment TCP cannot cover by itself: the peer resets with lines still unread in its receive
 * buffer, and wparse is killed before it notices. A line the kernel took is not delivered; only
 * one the peer vouched for (its queues drained, or its clean close) may be committed, so the
 * restart reads the rest again. Each case freezes wparse (SIGSTOP) once at least `unread` bytes
 * sit unread at the peer, resets the connection, then kills wparse with SIGKILL.
 */
const ENGINE = 'recovery: { idle_exit_ms: 300, scan_interval_ms: 100, workers: 1 }\nreconnect: { initial_ms: 20, max_ms: 50, jitter: 0 }\nperformance: { rate_limit_rps: 0 }\n';
const N = 200_000;
const expectedNs = (): number[] => range(0, N).filter((i) => i % 11 !== 10);

/** A line listener that stops reading after `pauseAt` bytes, so its receive buffer fills; `reset()` drops what the kernel holds unread. */
class PausingListener {
  readonly ns: number[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly drains = new Map<net.Socket, () => void>();
  socket: net.Socket | undefined;

  constructor(pauseAt: number) {
    this.server = net.createServer((s) => {
      this.sockets.add(s);
      this.socket = s;
      s.on('error', () => undefined);
      s.on('close', () => this.sockets.delete(s));
      let tail = '';
      let read = 0;
      const take = (d: Buffer): void => {
        read += d.length;
        const parts = (tail + d.toString()).split('\n');
        tail = parts.pop()!;
        for (const p of parts) this.ns.push((JSON.parse(p) as { n: number }).n);
      };
      this.drains.set(s, () => {
        // what Node read ahead of the pause was taken from the kernel: kept, as a reader that
        // processes what it reads; a reset loses only what the kernel still holds
        for (let d = s.read() as Buffer | null; d !== null; d = s.read() as Buffer | null) take(d);
      });
      s.on('data', (d: Buffer) => {
        if (s.isPaused()) return; // a chunk read() hands back while draining: taken there
        take(d);
        if (read >= pauseAt) s.pause();
      });
      s.on('end', () => s.end());
    });
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Bytes that sit unread in the accepted connection's receive buffer (Linux socket table). */
  unread(): number {
    const s = this.socket;
    if (!s?.remoteAddress || s.remotePort === undefined || !s.localAddress || s.localPort === undefined) return 0;
    const q = readSocketQueues({ address: s.remoteAddress, port: s.remotePort }, { address: s.localAddress, port: s.localPort }, 'IPv4');
    return q?.peerRx ?? 0;
  }

  reset(): void {
    for (const s of this.sockets) {
      s.pause();
      this.drains.get(s)?.();
      s.resetAndDestroy();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function run(name: 'wparse' | 'wprescue', args: string[]): Promise<{ code: number | null; out: string }> {
  const c = startNode(bin(name), args);
  const { code } = await c.exit;
  return { code, out: c.stdout() + c.stderr() };
}

describe('kill -9 of wparse after its tcp peer reset with lines unread', () => {
  const cases: Array<[string, number, number]> = [
    // thresholds well under what the buffers reach here (48 kB early; 0.67-1.7 MB after 3 MB read)
    ['early (200 kB read, 16 kB unread)', 2e5, 16 * 1024],
    ['once the peer has read 3 MB (256 kB unread)', 3e6, 256 * 1024],
  ];
  for (const [name, pauseAt, unread] of cases) {
    it(`${name}: the restart sends what the dead connection held, 0 lost`, async () => {
      const first = new PausingListener(pauseAt);
      const port = await first.listen();
      const root = makeWorkRoot(tmpDir('wr-tcpk-'), {
        input: makeInput(N),
        engine: ENGINE,
        groups: { app: `group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: net\n      connect: tcp_json\n      params: { port: ${port} }\n` },
      });
      const d = startNode(bin('wparse'), ['daemon', '-w', root]);
      await until(() => first.unread() >= unread, 20_000);
      d.child.kill('SIGSTOP');
      first.reset();
      d.child.kill('SIGKILL');
      expect((await d.exit).signal).toBe('SIGKILL');
      await first.close();
      const heldBack = first.ns.length;
      expect(heldBack).toBeLessThan(expectedNs().length); // the kill came before the end of the input

      const second = new PausingListener(Infinity);
      await second.listen(port);
      try {
        const p = await run('wparse', ['batch', '-w', root]);
        expect(p.code, p.out).toBe(0);
        if (rescueFilesIn(path.join(root, 'data/rescue')).length) expect((await run('wprescue', ['batch', '-w', root])).code).toBe(0);
        const { missing, duplicates } = compareNs(expectedNs(), [...first.ns, ...second.ns]);
        expect(missing).toEqual([]);
        // only what the first run sent comes twice (the lines it could not vouch for), each once more
        expect(duplicates).toBeLessThanOrEqual(heldBack);
      } finally {
        await second.close();
      }
    });
  }
});
