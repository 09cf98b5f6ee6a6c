import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SinkEntry } from '../../src/record.js';
import { hexEndpoint, readSocketQueues } from '../../src/sinks/tcp/kernel-queues.js';
import { computeKernelBufferBound, KERNEL_BOUND_MARGIN, ResendWindow } from '../../src/sinks/tcp/resend-window.js';
import { TcpSink } from '../../src/sinks/tcp/tcp-sink.js';
import { LineListener, type ConnectionPlan } from '../helpers/tcp-listener.js';
import { compareNs } from '../helpers/outputs.js';
import { until } from '../helpers/until.js';

const entries = (from: number, n: number): SinkEntry[] => Array.from({ length: n }, (_, i) => ({ id: `s:${from + i}`, kind: 'record', record: { n: from + i } }));
const ns = (es: SinkEntry[]): number[] => es.map((e) => e.record!.n as number);

describe('ResendWindow', () => {
  it('confirms a batch once `limit` bytes were written after it, and hands back the rest oldest first', () => {
    const w = new ResendWindow(100);
    w.push(entries(0, 2), 60);
    w.push(entries(2, 2), 60);
    expect(w.unconfirmed).toBe(4); // 60 bytes after the first batch: not yet
    w.push(entries(4, 1), 40);
    expect(w.unconfirmed).toBe(3); // 100 bytes after the first batch: confirmed
    w.push(entries(5, 1), 10, 50); // 50 of the written bytes still in the process: they confirm nothing
    expect(w.unconfirmed).toBe(4);
    expect(ns(w.takeAll())).toEqual([2, 3, 4, 5]);
    expect(w.unconfirmed).toBe(0);
  });

  it('rebuilds json batches kept as bytes and ids into the same entries, in order with plain ones', () => {
    const w = new ResendWindow(1 << 20);
    const recs = [{ n: 1, msg: 'a "quoted", ünïcode\\ line', ok: true, nil: null, f: 1.5 }, { n: 2 }];
    const json = recs.map((r) => `${JSON.stringify(r)}\n`).join('');
    w.push({ json: Buffer.from(json), ids: 's:1\ns:2', count: 2 }, json.length);
    const raw: SinkEntry = { id: 's:3', kind: 'raw', raw: 'garbage' };
    w.push([raw], 8);
    expect(w.unconfirmed).toBe(3);
    expect(w.takeAll()).toEqual([
      { id: 's:1', kind: 'record', record: recs[0], json: JSON.stringify(recs[0]) },
      { id: 's:2', kind: 'record', record: recs[1], json: JSON.stringify(recs[1]) },
      raw,
    ]);
  });

  it('stays O(1) per batch over many batches (compaction keeps the order)', () => {
    const w = new ResendWindow(1000);
    for (let i = 0; i < 5000; i++) w.push(entries(i, 1), 10);
    expect(w.unconfirmed).toBe(100);
    expect(ns(w.takeAll())).toEqual(Array.from({ length: 100 }, (_, i) => 4900 + i));
  });
});

describe('computeKernelBufferBound', () => {
  it('adds the largest send and receive buffers and a margin; falls back when /proc is missing', () => {
    const proc: Record<string, string> = {
      '/proc/sys/net/ipv4/tcp_wmem': '4096\t16384\t4194304\n',
      '/proc/sys/net/ipv4/tcp_rmem': '4096\t131072\t33554432\n',
      '/proc/sys/net/core/wmem_max': '8388608\n',
      '/proc/sys/net/core/rmem_max': '212992\n',
    };
    expect(computeKernelBufferBound((f) => proc[f]!)).toBe(2 * 8388608 + 33554432 + KERNEL_BOUND_MARGIN);
    expect(
      computeKernelBufferBound(() => {
        throw new Error('ENOENT');
      }),
    ).toBe(64 * 1024 * 1024 + KERNEL_BOUND_MARGIN);
  });
});

describe('readSocketQueues', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1668 1',
    '   1: 0100007F:B5DC 0100007F:1F90 01 00012000:00000000 00:00000000 00000000     0        0 11 1',
    '   2: 0100007F:1F90 0100007F:B5DC 01 00000000:00034000 00:00000000 00000000     0        0 12 1',
  ].join('\n');
  const local = { address: '127.0.0.1', port: 0xb5dc };
  const remote = { address: '127.0.0.1', port: 0x1f90 };

  it('reads our unacknowledged bytes and the unread bytes of the loopback peer', () => {
    expect(hexEndpoint('127.0.0.1', 8080, 'IPv4')).toBe('0100007F:1F90');
    expect(readSocketQueues(local, remote, 'IPv4', () => table)).toEqual({ tx: 0x12000, peerRx: 0x34000 });
  });

  it('a remote peer: tx only; no table or no socket: undefined (the static bound stays)', () => {
    expect(readSocketQueues(local, { address: '10.0.0.9', port: 0x1f90 }, 'IPv4', () => table)).toBeUndefined();
    const remoteTable = table.replace('0100007F:1F90 01 0001', '0900000A:1F90 01 0001');
    const read: string[] = [];
    const reading = (f: string): string => (read.push(f), remoteTable);
    expect(readSocketQueues(local, { address: '10.0.0.9', port: 0x1f90 }, 'IPv4', reading)).toEqual({ tx: 0x12000, peerRx: undefined });
    expect(read).toEqual(['/proc/net/tcp']); // a peer on another host is not looked for in tcp6
    expect(
      readSocketQueues(local, remote, 'IPv4', () => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  it('a dual-stack peer of our IPv4 connection is read from /proc/net/tcp6 (::ffff:127.0.0.1)', () => {
    const v4 = table.split('\n').slice(0, 3).join('\n'); // our socket only
    const v6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:B5DC 01 00000000:00034000 00:00000000 00000000     0        0 12 1',
    ].join('\n');
    const read = (f: string): string => (f === '/proc/net/tcp6' ? v6 : v4);
    expect(readSocketQueues(local, remote, 'IPv4', read)).toEqual({ tx: 0x12000, peerRx: 0x34000 });
  });
});

describe('TcpSink against a real listener', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  const listen = async (plan: ConnectionPlan[] = []): Promise<{ l: LineListener; port: number }> => {
    const l = new LineListener(plan);
    open.push(l);
    return { l, port: await l.listen() };
  };
  const sink = (port: number, kernelBound = 1 << 30, timeoutMs = 5000): TcpSink =>
    new TcpSink({ host: '127.0.0.1', port, fmt: 'json', resendWindow: 0, timeoutMs, kernelBound });

  it('keeps every line unconfirmed until flush, which confirms them once the peer closes cleanly', async () => {
    const { l, port } = await listen();
    const s = sink(port);
    await s.open();
    expect(await s.write(entries(0, 100))).toEqual({ status: 'ok' });
    expect(await s.write(entries(100, 100))).toEqual({ status: 'ok' });
    expect(s.unconfirmed()).toBe(200);
    expect(await s.flush()).toEqual({ status: 'ok' });
    expect(s.unconfirmed()).toBe(0);
    expect(l.ns()).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await s.write(entries(200, 1))).toEqual({ status: 'ok' }); // a new connection
    expect(l.connections).toBe(2);
    await s.close();
  });

  it('confirms lines once the window of later bytes was written (a small kernel bound)', async () => {
    const { port } = await listen();
    const s = sink(port, 1000);
    for (let i = 0; i < 20; i++) await s.write(entries(i * 10, 10)); // 100 bytes a batch
    expect(s.unconfirmed()).toBeLessThan(200);
    expect(s.unconfirmed()).toBeGreaterThanOrEqual(100);
    await s.close();
  });

  it('a peer that keeps up: the queues of the kernel confirm lines the static window never would; read to the end, all of them', async () => {
    const { l, port } = await listen();
    const s = sink(port); // a 1 GiB static bound: only the probe can confirm anything
    const line = 'x'.repeat(200);
    const batch = (from: number): SinkEntry[] => Array.from({ length: 500 }, (_, i) => ({ id: `s:${from + i}`, kind: 'record', record: { n: from + i, line } }));
    for (let i = 0; i < 200; i++) expect(await s.write(batch(i * 500))).toEqual({ status: 'ok' }); // about 21 MB
    // the static bound confirms nothing here; only the kernel queues can. How much the probes
    // during the writes confirm depends on the machine (they are spaced in time), so measure once
    // the peer has read everything: on loopback, with nothing unacknowledged, that confirms all
    await until(() => l.lines.length === 100_000, 20_000);
    expect(s.unconfirmed()).toBeGreaterThan(0);
    s.confirmQueued();
    expect(s.unconfirmed()).toBe(0);
    expect(await s.flush()).toEqual({ status: 'ok' });
    expect(l.lines).toHaveLength(100_000);
  });

  it('a dual-stack peer (listening on ::, its side of our IPv4 connection in /proc/net/tcp6): once it read everything, one measurement confirms all', async () => {
    const got: string[] = [];
    const conns: net.Socket[] = [];
    const server = net.createServer((c) => {
      conns.push(c);
      let tail = '';
      c.on('data', (d: Buffer) => {
        const parts = (tail + d.toString()).split('\n');
        tail = parts.pop()!;
        got.push(...parts);
      });
    });
    open.push({ close: () => new Promise<void>((r) => (conns.forEach((c) => c.destroy()), server.close(() => r()))) });
    await new Promise<void>((r) => server.listen(0, '::', () => r()));
    const s = sink((server.address() as net.AddressInfo).port); // a 1 GiB static bound: only a measurement confirms
    expect(await s.write(entries(0, 100))).toEqual({ status: 'ok' });
    await until(() => got.length === 100, 10_000);
    expect(conns[0]!.remoteAddress).toBe('::ffff:127.0.0.1');
    // without the peer found, the sink would end the connection to confirm (a peer that does not close on end of stream: rescued)
    s.confirmQueued();
    expect(s.unconfirmed()).toBe(0);
    await s.close();
  });

  it('a measurement when idle reads the peer again: its line of the table may predate our last bytes reaching it', async () => {
    const { l, port } = await listen([{ pauseMs: 20_000 }]); // reads nothing
    // the table is printed socket by socket: the first print shows the peer before our bytes arrived
    // (nothing unread), ours after they were acknowledged
    let prints = 0;
    const readProc = (f: string): string => {
      const text = readFileSync(f, 'utf8');
      return prints++ === 0 ? text.replace(/ ([0-9A-F]{8}):([0-9A-F]{8}) /g, ' $1:00000000 ') : text;
    };
    const s = new TcpSink({ host: '127.0.0.1', port, fmt: 'json', resendWindow: 0, timeoutMs: 5000, kernelBound: 1 << 30, readProc });
    expect(await s.write(entries(0, 100))).toEqual({ status: 'ok' });
    const ours = hexEndpoint('127.0.0.1', port, 'IPv4');
    const acked = (): boolean => readFileSync('/proc/net/tcp', 'utf8').split('\n').some((line) => {
      const f = line.trim().split(/\s+/);
      return f[2] === ours && f[3] === '01' && f[4] === '00000000:00000000';
    });
    await until(acked, 10_000);
    s.confirmQueued();
    expect(l.lines).toHaveLength(0);
    expect(s.unconfirmed()).toBe(100); // the peer read none of them: none is confirmed
    await s.close();
  });

  it('a peer that stops reading after 5 MB and resets: the lines confirmed by the kernel queues were all read, the rest come back', async () => {
    const { l, port } = await listen([{ pauseAtBytes: 5e6, pauseMs: 300, resetAfterBytes: 5e6 }]);
    const s = sink(port);
    const line = 'x'.repeat(200);
    let failed: SinkEntry[] | undefined;
    for (let i = 0; i < 200 && !failed; i++) {
      const batch = Array.from({ length: 500 }, (_, k): SinkEntry => ({ id: `s:${i * 500 + k}`, kind: 'record', record: { n: i * 500 + k, line } }));
      const o = await s.write(batch);
      if (o.status === 'unavailable') failed = [...(o.resend ?? []), ...batch];
    }
    expect(l.resets).toBe(1);
    const { missing } = compareNs(
      Array.from({ length: ns(failed!).at(-1)! + 1 }, (_, i) => i),
      [...l.ns(), ...ns(failed!)],
    );
    expect(missing).toEqual([]);
  });

  it('a reset is one failure: every unconfirmed line comes back in resend, the next write connects afresh', async () => {
    const { l, port } = await listen([{ resetAfterBytes: 500 }]);
    const s = sink(port);
    const outcomes = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(await s.write(entries(i * 10, 10)));
      if (i === 5) await until(() => l.resets === 1);
    }
    const failed = outcomes.filter((o) => o.status === 'unavailable');
    expect(failed).toHaveLength(1);
    const f = failed[0]!;
    if (f.status !== 'unavailable') throw new Error('unreachable');
    const failedAt = outcomes.indexOf(f);
    expect(ns(f.resend ?? [])).toEqual(Array.from({ length: failedAt * 10 }, (_, i) => i)); // all sent on the reset connection
    expect(await s.flush()).toEqual({ status: 'ok' });
    expect(l.connections).toBe(2);
    const got = new Set(l.ns());
    for (let n = failedAt * 10 + 10; n < 400; n++) expect(got.has(n)).toBe(true);
  });

  it('flush against a peer that never closes and has not read the tail: unavailable after timeout_ms, the tail in resend', async () => {
    const conns: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => conns.push(c)); // reads nothing
    open.push({ close: () => new Promise<void>((r) => (conns.forEach((c) => c.destroy()), server.close(() => r()))) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const s = sink((server.address() as net.AddressInfo).port, 1 << 30, 200);
    expect(await s.write(entries(0, 5))).toEqual({ status: 'ok' });
    const f = await s.flush();
    expect(f.status).toBe('unavailable');
    if (f.status === 'unavailable') expect(ns(f.resend ?? [])).toEqual([0, 1, 2, 3, 4]);
  });

  it('flush against a loopback peer that read everything but never closes: the socket tables confirm the tail at timeout_ms, nothing handed back', async () => {
    const got: string[] = [];
    const conns: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (c) => {
      conns.push(c);
      c.on('data', (d: Buffer) => got.push(...d.toString().split('\n').filter(Boolean)));
    });
    open.push({ close: () => new Promise<void>((r) => (conns.forEach((c) => c.destroy()), server.close(() => r()))) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const s = sink((server.address() as net.AddressInfo).port, 1 << 30, 300);
    expect(await s.write(entries(0, 5))).toEqual({ status: 'ok' });
    expect(await s.flush()).toEqual({ status: 'ok' });
    expect(got).toHaveLength(5);
    expect(s.unconfirmed()).toBe(0);
    expect(await s.write(entries(5, 1))).toEqual({ status: 'ok' }); // a new connection
    await until(() => conns.length === 2 && got.length === 6, 5000);
    await s.close();
  });
});
