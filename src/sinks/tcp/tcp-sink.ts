import net from 'node:net';
import { OK, unavailable, type SinkBackend, type WriteOutcome } from '../contract.js';
import type { SinkEntry } from '../../record.js';
import { createFormatter, type FormatName, type LineFormatter } from '../format.js';

export interface TcpSinkConfig {
  host: string;
  port: number;
  fmt: FormatName;
  /** Bytes of recently sent lines kept to re-rescue when the connection resets. */
  resendWindow: number;
  timeoutMs: number;
}

/**
 * Newline-delimited lines over TCP. TCP has no application acknowledgement, so a peer that dies
 * with data in its buffers loses it silently; this sink keeps the last `resendWindow` bytes of
 * lines it sent and hands them back (`resend`) when the connection breaks, so they go to rescue
 * too. Duplicates are bounded by the window; loss is zero.
 */
export class TcpSink implements SinkBackend {
  readonly type = 'tcp';
  private socket: net.Socket | undefined;
  private broken: string | undefined;
  private window: Array<{ entry: SinkEntry; bytes: number }> = [];
  private windowBytes = 0;
  private readonly format: LineFormatter;

  constructor(private readonly config: TcpSinkConfig) {
    this.format = createFormatter(config.fmt);
  }

  async open(): Promise<void> {
    this.socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.config.host, port: this.config.port });
      const timer = setTimeout(() => s.destroy(new Error('connect timeout')), this.config.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    this.broken = undefined;
    this.socket.on('error', (err) => (this.broken = err.message));
    this.socket.on('close', () => (this.broken ??= 'connection closed by peer'));
    this.socket.on('data', () => undefined);
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    if (!this.socket && !this.broken) {
      try {
        await this.open();
      } catch (err) {
        return this.fail(`connect: ${(err as Error).message}`);
      }
    }
    if (!this.socket || this.broken) return this.fail(this.broken ?? 'not connected');
    let text = '';
    const sizes: number[] = [];
    for (const e of entries) {
      const line = `${this.format(e)}\n`;
      sizes.push(Buffer.byteLength(line));
      text += line;
    }
    const err = await new Promise<Error | undefined>((resolve) => this.socket!.write(text, (e) => resolve(e ?? undefined)));
    if (err || this.broken) return this.fail(err?.message ?? this.broken ?? 'write failed');
    entries.forEach((entry, i) => this.remember(entry, sizes[i]!));
    return OK;
  }

  private remember(entry: SinkEntry, bytes: number): void {
    this.window.push({ entry, bytes });
    this.windowBytes += bytes;
    while (this.windowBytes > this.config.resendWindow && this.window.length > 0) this.windowBytes -= this.window.shift()!.bytes;
  }

  private fail(reason: string): WriteOutcome {
    const resend = this.window.map((w) => w.entry);
    this.window = [];
    this.windowBytes = 0;
    this.socket?.destroy();
    this.socket = undefined;
    this.broken = undefined; // the next write (or reconnect) connects afresh
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

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => s.end(() => resolve()));
  }
}
