import { errorMessage, isWrError } from '../errors.js';
import { sleep, type Clock, type TimerHandle } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import { DURABLE_NOW, RescueWriter, type Durability, type Written } from '../rescue/writer.js';
import type { SinkBackend, SinkEntry, WriteOutcome } from './contract.js';

export interface FailoverOptions {
  group: string;
  sink: string;
  rescueDir: string;
  durability: Durability;
  flushMs: number;
  reconnect: { initial_ms: number; max_ms: number; jitter: number };
  clock: Clock;
  random?: () => number;
  fs?: FsPort;
  log?: Logger;
  /** Records the backend refused for good, with the reason: for the `error` group. */
  onRejected?: (items: Array<{ entry: SinkEntry; reason: string }>) => void;
  onFailover?: (active: boolean) => void;
  onRescued?: (n: number) => void;
  onDelivered?: (n: number) => void;
}

/**
 * Wraps one backend. On `unavailable` it opens a rescue file, writes the undelivered entries there
 * (only the unaccepted part of a partial batch, plus any resend window), keeps writing new entries
 * there, and probes the backend in the background with exponential backoff and jitter. When a probe
 * succeeds it swaps back and releases the rescue file (one file per outage episode). A failing
 * rescue write is not an outage to fail over from: the write waits (backpressure), logs once, and
 * retries until it succeeds. Writes to one runtime are serialised.
 */
export class FailoverSink {
  private rescue: RescueWriter | undefined;
  private reconnectTimer: TimerHandle | undefined;
  private attempt = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly log: Logger;
  readonly released: string[] = [];

  constructor(
    readonly backend: SinkBackend,
    private readonly opts: FailoverOptions,
  ) {
    this.log = opts.log ?? silentLogger();
  }

  get onRescue(): boolean {
    return this.rescue !== undefined;
  }

  get rescueFile(): string | undefined {
    return this.rescue?.file;
  }

  async open(): Promise<void> {
    try {
      await this.backend.open();
    } catch (err) {
      await this.serial(() => this.failOver([], `open failed: ${errorMessage(err)}`));
    }
  }

  /** Resolves once the entries are written; the inner promise once they are durable. */
  write(entries: SinkEntry[]): Promise<Written> {
    return this.serial(() => this.writeNow(entries));
  }

  private async writeNow(entries: SinkEntry[]): Promise<Written> {
    if (entries.length === 0) return DURABLE_NOW;
    if (this.rescue) {
      this.backend.offeredElsewhere?.(entries.length);
      return this.toRescue(entries);
    }
    const outcome: WriteOutcome = await this.backend.write(entries);
    this.reportRejected(entries, outcome.rejected);
    if (outcome.status === 'ok') {
      this.opts.onDelivered?.(entries.length - (outcome.rejected?.length ?? 0));
      return DURABLE_NOW;
    }
    const rejectedIdx = new Set((outcome.rejected ?? []).map((r) => r.index));
    const rest = entries.filter((_, i) => i >= outcome.accepted && !rejectedIdx.has(i));
    this.opts.onDelivered?.(outcome.accepted);
    this.backend.offeredElsewhere?.(entries.length - outcome.accepted);
    return this.failOver([...(outcome.resend ?? []), ...rest], outcome.reason);
  }

  private async failOver(entries: SinkEntry[], reason: string): Promise<Written> {
    this.log.warn({ group: this.opts.group, sink: this.opts.sink, reason }, 'sink unavailable: failing over to rescue');
    this.opts.onFailover?.(true);
    this.attempt = 0;
    this.scheduleReconnect();
    return this.toRescue(entries);
  }

  private async toRescue(entries: SinkEntry[]): Promise<Written> {
    let failures = 0;
    for (;;) {
      try {
        this.rescue ??= await RescueWriter.create({
          rescueDir: this.opts.rescueDir,
          group: this.opts.group,
          sink: this.opts.sink,
          durability: this.opts.durability,
          flushMs: this.opts.flushMs,
          clock: this.opts.clock,
          ...(this.opts.fs ? { fs: this.opts.fs } : {}),
          log: this.log,
        });
        if (failures === 0 && this.rescue.lineCount === 0) this.log.info({ file: this.rescue.file }, 'rescue file opened');
        const written = entries.length ? await this.rescue.append(entries) : DURABLE_NOW;
        if (failures > 0) this.log.info({ sink: this.opts.sink, file: this.rescue.file }, 'rescue writes resumed');
        this.opts.onRescued?.(entries.length);
        return written;
      } catch (err) {
        if (!isWrError(err, 'RESCUE_WRITE_FAILED') || this.closed) throw err;
        if (failures === 0) this.log.error({ sink: `${this.opts.group}/${this.opts.sink}`, err: err.message }, 'rescue write failed: input paused until it succeeds');
        failures++;
        await sleep(this.opts.clock, Math.min(this.opts.reconnect.max_ms, this.opts.reconnect.initial_ms * 2 ** Math.min(failures, 16)));
      }
    }
  }

  private reportRejected(entries: SinkEntry[], rejected: WriteOutcome['rejected']): void {
    if (!rejected?.length) return;
    this.opts.onRejected?.(rejected.map((r) => ({ entry: entries[r.index]!, reason: r.reason })));
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const { initial_ms, max_ms, jitter } = this.opts.reconnect;
    const base = Math.min(max_ms, initial_ms * 2 ** Math.min(this.attempt, 30));
    const r = this.opts.random?.() ?? Math.random();
    const delay = Math.round(base * (1 - jitter + 2 * jitter * r));
    this.reconnectTimer = this.opts.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.serial(() => this.probe());
    }, delay);
  }

  private async probe(): Promise<void> {
    if (this.closed || !this.rescue) return;
    let ok: boolean;
    try {
      ok = await this.backend.reconnect();
    } catch {
      ok = false;
    }
    if (!ok) {
      this.attempt++;
      this.scheduleReconnect();
      return;
    }
    await this.swapBack();
  }

  private async swapBack(): Promise<void> {
    const writer = this.rescue;
    this.rescue = undefined;
    if (!writer) return;
    const dat = await writer.release();
    this.released.push(dat);
    this.opts.onFailover?.(false);
    this.log.info({ group: this.opts.group, sink: this.opts.sink, file: dat, lines: writer.lineCount }, 'sink back: rescue file released');
  }

  /** Graceful stop: release the rescue file (if any) and close the backend. */
  async close(): Promise<void> {
    await this.serial(async () => {
      this.closed = true;
      if (this.reconnectTimer) this.opts.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      const writer = this.rescue;
      this.rescue = undefined;
      if (writer) this.released.push(await writer.release());
      await this.backend.close().catch(() => undefined);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
