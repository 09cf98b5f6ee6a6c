import net from 'node:net';
import { OK, unavailable, type SinkBackend, type WriteOutcome } from '../contract.js';
import type { SinkEntry } from '../../record.js';
import { createFormatter, type FormatName, type LineFormatter } from '../format.js';
import { readSocketQueues, type ProcReader } from './kernel-queues.js';
import { kernelBufferBound, kernelBuffers, ResendWindow } from './resend-window.js';

/**
 * Above PROBE_ABOVE unconfirmed bytes the sink asks the kernel what it really holds (Linux socket
 * tables), once per PROBE_EVERY bytes written, so a peer that keeps up costs a window of about
 * what sits in the buffers instead of their ceiling (tens of MiB of records kept alive, which the
 * garbage collector pays for on every scavenge). PROBE_MARGIN covers bytes moving between the two
 * sockets while the table is printed. The table's size grows with the host's sockets, so probes
 * are also spaced to cost at most 5% of the time (and at least every 200 ms).
 */
const PROBE_ABOVE = 1024 * 1024;
const PROBE_EVERY = 256 * 1024;
const PROBE_MARGIN = 256 * 1024;
const PROBE_TIME_SHARE = 20;
const PROBE_MAX_GAP_MS = 200;

export interface TcpSinkConfig {
  host: string;
  port: number;
  fmt: FormatName;
  /** Lower limit of the resend window in bytes; the window is never smaller than the kernel bound. */
  resendWindow: number;
  timeoutMs: number;
  /** The longest a written line waits unconfirmed before `flush()` confirms it (ends the connection). */
  confirmMs?: number;
  /** The kernel bound (send + receive buffers, also the receive side of a probe); injected by tests, read from /proc by default. */
  kernelBound?: number;
  /** Reads the socket tables; injected by tests (a table printed while bytes moved), /proc by default. */
  readProc?: ProcReader;
}

/**
 * One connection and what happened to it. Events of a connection only ever touch its own record,
 * so the close of an old connection cannot mark a newer one broken (one reset, one failure).
 */
interface Connection {
  socket: net.Socket;
  failure: string | undefined;
  /** The peer sent FIN; after our own FIN, this is the clean end that confirms everything. */
  peerEnded: boolean;
  /** We sent FIN (flush). */
  ending: boolean;
  closed: Promise<void>;
}

function onceDrainOrClose(conn: Connection, resolve: () => void): void {
  const done = (): void => {
    conn.socket.off('drain', done);
    conn.socket.off('close', done);
    resolve();
  };
  conn.socket.on('drain', done);
  conn.socket.on('close', done);
}

/**
 * Newline-delimited lines over TCP. TCP has no application acknowledgement: the kernel taking a
 * line says nothing about the peer having read it, and a peer that resets drops whatever sits in
 * its receive buffer and in ours. So a written batch stays unconfirmed (`unconfirmed()`) until
 * more bytes than those buffers can hold have been written after it; on a failure every
 * unconfirmed entry goes back in `resend` and is rescued (wparse) or re-read from the checkpoint
 * (wprescue). On Linux the kernel's own queues (`probe`) confirm lines sooner, so memory follows
 * what the buffers really hold. `flush()` confirms the tail by ending the connection and waiting
 * for the peer to close it cleanly, which it does only after reading everything up to our FIN.
 */
export class TcpSink implements SinkBackend {
  readonly type = 'tcp';
  readonly confirmMs: number;
  private conn: Connection | undefined;
  private readonly window: ResendWindow;
  private readonly format: LineFormatter;
  private readonly receiveBound: number;
  private nextProbeAt = 0;
  private nextProbeTime = 0;

  constructor(private readonly config: TcpSinkConfig) {
    this.format = createFormatter(config.fmt);
    this.window = new ResendWindow(Math.max(config.resendWindow, config.kernelBound ?? kernelBufferBound()));
    this.receiveBound = config.kernelBound ?? kernelBuffers().receive;
    this.confirmMs = config.confirmMs ?? 1000;
  }

  async open(): Promise<void> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.config.host, port: this.config.port });
      const timer = setTimeout(() => s.destroy(new Error('connect timeout')), this.config.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const conn: Connection = { socket, failure: undefined, peerEnded: false, ending: false, closed: Promise.resolve() };
    socket.on('error', (err) => (conn.failure ??= err.message));
    socket.on('end', () => (conn.peerEnded = true));
    socket.on('data', () => undefined); // a peer that talks back must not fill our receive buffer
    conn.closed = new Promise((resolve) =>
      socket.once('close', () => {
        // clean only when the peer's FIN answered ours: it read everything up to our end of stream
        if (!(conn.ending && conn.peerEnded)) conn.failure ??= 'connection closed by peer';
        resolve();
      }),
    );
    this.conn?.socket.destroy();
    this.conn = conn;
    this.nextProbeAt = 0;
    this.nextProbeTime = 0;
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    if (!this.conn) {
      try {
        await this.open();
      } catch (err) {
        return this.fail(`connect: ${(err as Error).message}`);
      }
    }
    const conn = this.conn!;
    if (conn.failure) return this.fail(conn.failure);
    let text = '';
    let compact = this.config.fmt === 'json';
    for (const e of entries) {
      text += `${this.format(e)}\n`;
      if (e.kind !== 'record' || e.id.includes('\n')) compact = false;
    }
    const buf = Buffer.from(text);
    // No wait for the kernel per batch: a failed write surfaces as the connection's failure, and
    // bytes still in Node's own buffer are left out of what confirms earlier batches.
    if (!conn.socket.write(buf)) await this.drained(conn);
    if (conn.failure) return this.fail(conn.failure);
    this.window.push(compact ? { json: buf, ids: entries.map((e) => e.id).join('\n'), count: entries.length } : entries, buf.length, conn.socket.writableLength);
    if (this.window.unconfirmedBytes > PROBE_ABOVE && this.window.writtenBytes >= this.nextProbeAt && performance.now() >= this.nextProbeTime) this.probe(conn.socket);
    return OK;
  }

  /**
   * Waits for Node's buffer to drain. A peer that accepts and never reads would hold the write (and
   * the whole pipeline) forever: when the buffer has not shrunk for `timeout_ms`, the connection
   * fails, so the batch and the window go to rescue. A slow reader that keeps taking bytes is waited for.
   */
  private async drained(conn: Connection): Promise<void> {
    let left = conn.socket.writableLength;
    const timer = setInterval(() => {
      const now = conn.socket.writableLength;
      if (now < left) left = now;
      else conn.socket.destroy(new Error(`peer took no byte for ${this.config.timeoutMs} ms`));
    }, this.config.timeoutMs);
    try {
      await new Promise<void>((resolve) => onceDrainOrClose(conn, resolve));
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Confirms what the kernel no longer holds: our unacknowledged bytes plus the peer's unread ones
   * (the largest receive buffer when the peer is not on this host), plus the margin. Bytes still in
   * Node's buffer are taken before the table is read, so a racing write only makes it stricter.
   * With nothing unacknowledged on our side and nothing in Node's buffer, no byte of ours moves any
   * more, so the peer's unread bytes read after that are exact and no margin is needed
   * (`exactWhenIdle`). They are read again for that: the table is printed socket by socket, and the
   * peer's line may have come before our last bytes reached it.
   */
  private probe(s: net.Socket, exactWhenIdle = false): boolean {
    const t0 = performance.now();
    this.nextProbeAt = this.window.writtenBytes + PROBE_EVERY;
    if (!s.localAddress || !s.remoteAddress || s.localPort === undefined || s.remotePort === undefined) return false;
    const inKernel = this.window.writtenBytes - s.writableLength;
    const measure = (): ReturnType<typeof readSocketQueues> =>
      readSocketQueues({ address: s.localAddress!, port: s.localPort! }, { address: s.remoteAddress!, port: s.remotePort! }, s.remoteFamily ?? 'IPv4', this.config.readProc);
    const q = measure();
    const t1 = performance.now();
    this.nextProbeTime = t1 + Math.min(PROBE_MAX_GAP_MS, (t1 - t0) * PROBE_TIME_SHARE);
    if (!q) return false;
    if (exactWhenIdle && q.tx === 0 && s.writableLength === 0) {
      const peerRx = q.peerRx === undefined ? undefined : measure()?.peerRx;
      this.window.confirmThrough(inKernel - (peerRx ?? this.receiveBound));
    } else this.window.confirmThrough(inKernel - q.tx - (q.peerRx ?? this.receiveBound) - PROBE_MARGIN);
    return q.peerRx !== undefined;
  }

  unconfirmed(): number {
    return this.window.unconfirmed;
  }

  /**
   * Writes paused: a local peer that has read everything confirms every line at once. True when
   * the peer's queue was seen (loopback): what it has read keeps being confirmed by measuring, no
   * flush needed; false for a remote peer, whose unread bytes no table shows.
   */
  confirmQueued(): boolean {
    const conn = this.conn;
    if (!conn || conn.failure) return false;
    return this.window.unconfirmed === 0 || this.probe(conn.socket, true);
  }

  /**
   * Confirms the tail: sends FIN and waits (up to `timeout_ms`) for the peer to close cleanly, or,
   * when it does not, for the socket tables to show it read everything (loopback).
   * The next write opens a new connection.
   */
  async flush(): Promise<WriteOutcome> {
    const conn = this.conn;
    if (this.window.unconfirmed === 0) return OK;
    if (!conn || conn.failure || conn.peerEnded) return this.fail(conn?.failure ?? 'connection closed by peer');
    conn.ending = true;
    conn.socket.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      conn.closed.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.config.timeoutMs))),
    ]);
    clearTimeout(timer);
    // a peer that does not close on end of stream may still have read everything: on loopback the
    // socket tables tell (our FIN sent, nothing of ours moves), and nothing needs to be rescued
    if (timedOut && !conn.failure) this.probe(conn.socket, true);
    if (timedOut && (conn.failure || this.window.unconfirmed > 0)) return this.fail(`peer did not close within ${this.config.timeoutMs} ms after our end of stream`);
    if (conn.failure) return this.fail(conn.failure);
    if (timedOut) conn.socket.destroy();
    this.window.clear();
    this.conn = undefined;
    return OK;
  }

  private fail(reason: string): WriteOutcome {
    const resend = this.window.takeAll();
    this.conn?.socket.destroy();
    this.conn = undefined; // the next write (or reconnect) connects afresh
    return { ...unavailable(`tcp ${this.config.host}:${this.config.port}: ${reason}`), ...(resend.length ? { resend } : {}) };
  }

  async reconnect(): Promise<boolean> {
    try {
      await this.open();
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the connection; callers that must know the tail arrived call `flush()` first. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    conn.ending = true;
    await new Promise<void>((resolve) => conn.socket.end(resolve));
  }
}
