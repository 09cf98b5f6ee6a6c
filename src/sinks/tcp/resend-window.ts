import { readFileSync } from 'node:fs';
import type { SinkEntry } from '../../record.js';

/**
 * The bytes a TCP connection may still lose after the kernel took them: the sender's send buffer
 * (unsent and unacknowledged bytes) plus the peer's receive buffer (acknowledged, not yet read by
 * the peer; a peer that closes with unread data resets and drops it). Node has no SO_SNDBUF
 * getter, and both buffers autotune, so the bound is their ceiling: the largest of `tcp_wmem` max
 * and twice `net.core.wmem_max` (what an explicit SO_SNDBUF may reach), the same for the receive
 * side (exact on loopback, where the peer is this kernel; for a remote peer, this host's setting
 * stands in for the peer's), plus a margin for skb accounting slack. Read once per process.
 * Where /proc is missing (not Linux) a generous 64 MiB is assumed.
 */
export const KERNEL_BOUND_MARGIN = 1024 * 1024;
const FALLBACK = { send: 32 * 1024 * 1024, receive: 32 * 1024 * 1024 };
let cached: { send: number; receive: number } | undefined;

/** This host's largest send and receive buffers (read once per process). */
export function kernelBuffers(): { send: number; receive: number } {
  return (cached ??= computeKernelBuffers((f) => readFileSync(f, 'utf8')));
}

export function kernelBufferBound(): number {
  const { send, receive } = kernelBuffers();
  return send + receive + KERNEL_BOUND_MARGIN;
}

/** The buffers from sysctl files read through `readProc` (tests pass their own values). */
export function computeKernelBuffers(readProc: (file: string) => string): { send: number; receive: number } {
  const max = (file: string, field: number): number => {
    const v = Number(readProc(file).trim().split(/\s+/)[field]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`unreadable ${file}`);
    return v;
  };
  try {
    return {
      send: Math.max(max('/proc/sys/net/ipv4/tcp_wmem', 2), 2 * max('/proc/sys/net/core/wmem_max', 0)),
      receive: Math.max(max('/proc/sys/net/ipv4/tcp_rmem', 2), 2 * max('/proc/sys/net/core/rmem_max', 0)),
    };
  } catch {
    return FALLBACK;
  }
}

export function computeKernelBufferBound(readProc: (file: string) => string): number {
  const { send, receive } = computeKernelBuffers(readProc);
  return send + receive + KERNEL_BOUND_MARGIN;
}

/**
 * A written batch: its entries, or (json records, the common case) only the bytes written and the
 * ids joined by `\n`, from which the entries are rebuilt on a reset. Two objects per batch instead
 * of a record per line: records kept alive for the window's lifetime get promoted and collected
 * as old objects, which cost the sink more than the whole write path.
 */
export type SentLines = SinkEntry[] | { json: Buffer; ids: string; count: number };

interface SentBatch {
  lines: SentLines;
  count: number;
  /** Bytes written on the connection up to and including this batch. */
  end: number;
}

function expand(lines: SentLines, out: SinkEntry[]): void {
  if (Array.isArray(lines)) {
    for (const e of lines) out.push(e);
    return;
  }
  const ids = lines.ids.split('\n');
  const texts = lines.json.toString('utf8').split('\n');
  for (let i = 0; i < lines.count; i++) {
    const json = texts[i]!;
    out.push({ id: ids[i]!, kind: 'record', record: JSON.parse(json) as SinkEntry['record'], json });
  }
}

/**
 * Batches written to a connection that the sink cannot vouch for yet. A batch is confirmed once
 * `limit` more bytes have been written after its last byte: by then the kernel has sent it and
 * the peer has read it, since the buffers between cannot hold `limit` bytes; or earlier, when a
 * measurement of the kernel's queues says so (`confirmThrough`). Kept per batch (a
 * reference to the batch's own array, no copy) in an array read from a moving head that is
 * compacted now and then, so the hot path is O(1) per batch, never per line.
 */
export class ResendWindow {
  private batches: SentBatch[] = [];
  private head = 0;
  private count = 0;
  private written = 0;
  private confirmedEnd = 0;

  constructor(readonly limit: number) {}

  /** Entries written but not yet confirmed. */
  get unconfirmed(): number {
    return this.count;
  }

  /**
   * Records a written batch of `bytes` bytes and confirms what is now more than `limit` bytes
   * behind the kernel's side: `notInKernel` bytes of what was written still wait in the process.
   */
  push(lines: SentLines, bytes: number, notInKernel = 0): void {
    const count = Array.isArray(lines) ? lines.length : lines.count;
    this.written += bytes;
    this.batches.push({ lines, count, end: this.written });
    this.count += count;
    this.confirmThrough(this.written - notInKernel - this.limit);
  }

  /** Bytes written on this connection (those still in the process included). */
  get writtenBytes(): number {
    return this.written;
  }

  /** Bytes of the unconfirmed batches. */
  get unconfirmedBytes(): number {
    return this.head < this.batches.length ? this.written - this.confirmedEnd : 0;
  }

  /** Confirms every batch whose last byte is at or before `offset` (a measurement said it was read). */
  confirmThrough(offset: number): void {
    while (this.head < this.batches.length && this.batches[this.head]!.end <= offset) {
      this.count -= this.batches[this.head]!.count;
      this.confirmedEnd = this.batches[this.head]!.end;
      this.batches[this.head++] = undefined as unknown as SentBatch; // let the entries go
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /** Every unconfirmed entry, oldest first; the window is empty afterwards (a new connection starts at 0). */
  takeAll(): SinkEntry[] {
    const out: SinkEntry[] = [];
    for (let i = this.head; i < this.batches.length; i++) expand(this.batches[i]!.lines, out);
    this.clear();
    return out;
  }

  /** Everything written is confirmed (the peer closed cleanly after reading it all). */
  clear(): void {
    this.batches = [];
    this.head = 0;
    this.count = 0;
    this.written = 0;
    this.confirmedEnd = 0;
  }
}
