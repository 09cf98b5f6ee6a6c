import { backoffDelay } from '../platform/backoff.js';
import { WrError, errorMessage, isWrError } from '../errors.js';
import { sleep, type Clock, type TimerHandle } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import { silentLogger, type Logger } from '../platform/logger.js';
import type { RescueBudget } from '../rescue/budget.js';
import { DURABLE_NOW, encodeRescueBatch, RescueWriter, type Durability, type Written } from '../rescue/writer.js';
import { Confirmations } from './confirmations.js';
import { OK, type SinkBackend, type WriteOutcome } from './contract.js';
import type { SinkEntry } from '../record.js';

/** A record a backend refused for good, with the reason, on its way to the `error` group. */
export interface RejectedEntry {
  entry: SinkEntry;
  reason: string;
}

export interface SinkWritten extends Written {
  rejected: RejectedEntry[];
  /**
   * A backend that cannot vouch for a write at once (TCP): resolves once it does, or once the
   * entries are durable in rescue instead. The source commit waits for it; the reader does not.
   */
  confirmed?: Promise<void>;
}

/** Writes paused this long: the runtime asks the backend to measure what it can vouch for. */
export const CONFIRM_IDLE_MS = 100;
/** A backend that cannot measure everything is flushed after this many `confirmMs`, writes or not. */
export const CONFIRM_MAX_FACTOR = 10;
/** `confirmMs` of a backend that has `unconfirmed()` but names none. */
const DEFAULT_CONFIRM_MS = 1000;

const NONE: RejectedEntry[] = [];

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
  onFailover?: (active: boolean) => void;
  onRescued?: (n: number) => void;
  onDelivered?: (n: number) => void;
  /** The rescue directory's cap (rescue.max_bytes, when_full), shared by every sink. */
  budget?: RescueBudget;
  /** Records dropped by `when_full: drop_newest`. */
  onDropped?: (n: number) => void;
  /** A rescue write failed (the error) or works again (undefined): for /healthz. */
  onRescueFailing?: (error: string | undefined) => void;
  /** A graceful stop: a rescue write that keeps failing stops retrying (its batch stays uncommitted). */
  signal?: AbortSignal;
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
  /** Failed over: records go to rescue until a probe succeeds (the file is made by the first record). */
  private failedOver = false;
  private reconnectTimer: TimerHandle | undefined;
  private attempt = 0;
  /** Consecutive failed rescue writes (disk full...): while > 0 the input waits; 0 when writes succeed. */
  rescueFailures = 0;
  /** A backend's own hint for the next probe (HTTP Retry-After), used once. */
  private retryAfterMs: number | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Records dropped in the current full-directory episode (drop_newest), or -1 when not full. */
  private dropping = -1;
  /** Why rescue writes are held up right now (disk full, cap reached with block), for /healthz. */
  private stall: string | undefined;
  private readonly log: Logger;
  readonly released: string[] = [];
  /** Healthy writes the backend cannot vouch for yet, and when to make it. */
  private readonly confirmations = new Confirmations();
  private confirmTimer: TimerHandle | undefined;
  private confirmTimerAt = 0;
  private lastWriteAt = 0;
  private measuredSinceWrite = false;
  private lastMeasureAt = -Infinity;

  constructor(
    readonly backend: SinkBackend,
    private readonly opts: FailoverOptions,
  ) {
    this.log = opts.log ?? silentLogger();
  }

  get onRescue(): boolean {
    return this.failedOver;
  }

  /** Why the input waits on rescue writes (disk full, cap reached with block), or undefined; told to /healthz. */
  private setStall(why: string | undefined): void {
    if (why === this.stall) return;
    this.stall = why;
    this.opts.onRescueFailing?.(why);
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

  /**
   * Resolves once the entries are written (`durable` once they are durable), with the entries the
   * backend rejected for good: the caller routes those to the `error` group and must not count the
   * batch delivered before that write is durable too.
   */
  write(entries: SinkEntry[]): Promise<SinkWritten> {
    return this.serial(() => this.writeNow(entries));
  }

  private async writeNow(entries: SinkEntry[]): Promise<SinkWritten> {
    if (entries.length === 0) return { ...DURABLE_NOW, rejected: NONE };
    if (this.failedOver) {
      this.backend.offeredElsewhere?.(entries.length);
      return { ...(await this.toRescue(entries)), rejected: NONE };
    }
    const outcome: WriteOutcome = await this.backend.write(entries);
    const rejected = (outcome.rejected ?? []).map((r) => ({ entry: entries[r.index]!, reason: r.reason }));
    if (outcome.status === 'ok') {
      this.opts.onDelivered?.(entries.length - rejected.length);
      const confirmed = this.track(entries.length);
      return confirmed ? { ...DURABLE_NOW, rejected, confirmed } : { ...DURABLE_NOW, rejected };
    }
    const rejectedIdx = new Set((outcome.rejected ?? []).map((r) => r.index));
    const rest = entries.filter((_, i) => i >= outcome.accepted && !rejectedIdx.has(i));
    this.opts.onDelivered?.(outcome.accepted);
    this.backend.offeredElsewhere?.(entries.length - outcome.accepted);
    if (outcome.retryAfterMs !== undefined) this.retryAfterMs = outcome.retryAfterMs;
    return { ...(await this.failOverHandingBack([...(outcome.resend ?? []), ...rest], outcome.reason)), rejected };
  }

  /** Fails over; the writes waiting for confirmation settle with the rescue write of what the backend handed back. */
  private failOverHandingBack(entries: SinkEntry[], reason: string): Promise<Written> {
    return this.handBack(this.failOver(entries, reason));
  }

  /** The writes waiting for confirmation settle with `written`, the rescue write of the entries the backend handed back. */
  private handBack(written: Promise<Written>): Promise<Written> {
    if (this.confirmations.size) this.confirmations.handOver(written.then((w) => w.durable));
    return written;
  }

  private get confirmMs(): number {
    return this.backend.confirmMs ?? DEFAULT_CONFIRM_MS;
  }

  /** Counts a healthy write the backend may not vouch for yet; its confirmation, if it waits for one. */
  private track(n: number): Promise<void> | undefined {
    const unconfirmed = this.backend.unconfirmed?.();
    if (unconfirmed === undefined) return undefined;
    this.lastWriteAt = this.opts.clock.now();
    this.measuredSinceWrite = false;
    const confirmed = this.confirmations.add(n, this.lastWriteAt, unconfirmed);
    this.armConfirm();
    return confirmed;
  }

  /**
   * When to act on the waiting writes next: a short pause after the last write (a cheap
   * measurement, once per pause), else `confirmMs` after the oldest waiting write was made and
   * after the last measurement (measured again, or flushed: see `confirm`).
   */
  private confirmDue(): number {
    const idle = this.measuredSinceWrite ? Infinity : this.lastWriteAt + CONFIRM_IDLE_MS;
    return Math.min(idle, Math.max(this.confirmations.oldestAt!, this.lastMeasureAt) + this.confirmMs);
  }

  /** Sets the confirmation timer for `confirmDue()`; one already set for sooner stays (it re-checks when it fires). */
  private armConfirm(): void {
    if (this.closed || this.confirmations.size === 0) return;
    const due = this.confirmDue();
    if (this.confirmTimer) {
      if (this.confirmTimerAt <= due) return;
      this.opts.clock.clearTimeout(this.confirmTimer);
    }
    this.confirmTimerAt = due;
    this.confirmTimer = this.opts.clock.setTimeout(() => {
      this.confirmTimer = undefined;
      if (this.confirmations.size === 0) return;
      if (this.opts.clock.now() < this.confirmDue()) return this.armConfirm(); // written since: later
      this.serial(() => this.confirm(false)).catch((err: unknown) => this.log.error({ sink: `${this.opts.group}/${this.opts.sink}`, err: errorMessage(err) }, 'confirming written lines failed'));
    }, Math.max(0, due - this.opts.clock.now()));
  }

  /**
   * Measures what the backend vouches for. What is still waiting is confirmed with `flush()` (or
   * rescued when that fails) when `all` (end of input, a stop), or when the measurement cannot see
   * everything (a remote peer) and a write has waited `confirmMs` with writes paused, or
   * CONFIRM_MAX_FACTOR × `confirmMs` at all. A backend that sees everything (a loopback peer) is
   * only measured again: a slow peer is not cut off while it reads.
   */
  private async confirm(all: boolean): Promise<void> {
    if (this.failedOver || this.confirmations.size === 0) return;
    const seesAll = this.backend.confirmQueued?.() === true;
    const now = this.opts.clock.now();
    this.measuredSinceWrite = true;
    this.lastMeasureAt = now;
    this.confirmations.settle(this.backend.unconfirmed?.() ?? 0);
    const oldest = this.confirmations.oldestAt;
    const confirmMs = this.confirmMs;
    const age = oldest === undefined ? 0 : now - oldest;
    const paused = now - this.lastWriteAt >= CONFIRM_IDLE_MS;
    if (oldest !== undefined && (all || (!seesAll && age >= confirmMs && (paused || age >= CONFIRM_MAX_FACTOR * confirmMs)))) {
      const outcome = (await this.backend.flush?.()) ?? OK;
      if (outcome.status === 'ok') this.confirmations.settle(this.backend.unconfirmed?.() ?? 0);
      else {
        this.log.warn({ group: this.opts.group, sink: this.opts.sink, reason: outcome.reason }, 'sink failed while confirming written lines: unconfirmed lines rescued');
        await this.failOverHandingBack(outcome.resend ?? [], outcome.reason);
      }
    }
    this.armConfirm();
  }

  /** Confirms every write now (end of input, a stop), so the sources can commit them. */
  confirmAll(): Promise<void> {
    return this.serial(() => this.confirm(true));
  }

  private async failOver(entries: SinkEntry[], reason: string): Promise<Written> {
    this.log.warn({ group: this.opts.group, sink: this.opts.sink, reason }, 'sink unavailable: failing over to rescue');
    this.opts.onFailover?.(true);
    this.failedOver = true;
    this.attempt = 0;
    this.scheduleReconnect();
    return this.toRescue(entries);
  }

  private async toRescue(entries: SinkEntry[]): Promise<Written> {
    if (entries.length === 0) return DURABLE_NOW; // no empty rescue file for a sink that got no record
    const buf = encodeRescueBatch(entries);
    let reserved = false;
    if (this.opts.budget && !this.opts.budget.fits(buf.length)) {
      if (this.opts.budget.whenFull === 'drop_newest') return this.drop(entries.length);
      reserved = await this.waitForRoom(this.opts.budget, buf.length);
    }
    if (this.dropping >= 0) {
      this.log.warn({ sink: `${this.opts.group}/${this.opts.sink}`, dropped: this.dropping }, 'rescue directory has room again: dropping ended');
      this.dropping = -1;
    }
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
        if (this.rescueFailures === 0 && this.rescue.lineCount === 0) this.log.info({ file: this.rescue.file }, 'rescue file opened');
        const written = await this.rescue.append(entries, buf);
        if (!reserved) this.opts.budget?.add(buf.length);
        if (this.rescueFailures > 0) this.log.info({ sink: this.opts.sink, file: this.rescue.file }, 'rescue writes resumed');
        this.rescueFailures = 0;
        this.setStall(undefined);
        this.opts.onRescued?.(entries.length);
        return written;
      } catch (err) {
        if (!isWrError(err, 'RESCUE_WRITE_FAILED') || this.closed) throw err;
        if (this.opts.signal?.aborted) {
          // nowhere to put the batch: its source does not commit it, so the next start reads it again
          throw new WrError('RESCUE_WRITE_FAILED', `stopped while rescue writes fail (${err.message}); the lines not yet durable are read again at the next start`, err);
        }
        if (this.rescueFailures === 0) this.log.error({ sink: `${this.opts.group}/${this.opts.sink}`, err: err.message }, 'rescue write failed: input paused until it succeeds');
        this.setStall(`rescue write failing: ${err.message}`);
        this.rescueFailures++;
        const { initial_ms, max_ms } = this.opts.reconnect;
        await sleep(this.opts.clock, backoffDelay({ initialMs: initial_ms, maxMs: max_ms, jitter: 0 }, this.rescueFailures), this.opts.signal);
      }
    }
  }

  /** when_full: drop_newest: the records are counted and gone; one log line per episode. */
  private drop(n: number): Written {
    if (this.dropping < 0) {
      this.log.error({ sink: `${this.opts.group}/${this.opts.sink}`, max_bytes: this.opts.budget?.maxBytes }, 'rescue directory full (rescue.max_bytes): dropping newest records');
      this.dropping = 0;
    }
    this.dropping += n;
    this.opts.onDropped?.(n);
    return DURABLE_NOW;
  }

  /**
   * when_full: block: the write (and so the source) waits for room. The open rescue file is
   * released first, so `wprescue` can replay it and free the space this waits for.
   */
  private async waitForRoom(budget: RescueBudget, n: number): Promise<boolean> {
    // health first: whoever reads the log line below must find /healthz already saying why
    this.setStall(`rescue directory full (rescue.max_bytes ${budget.maxBytes})`);
    this.log.error({ sink: `${this.opts.group}/${this.opts.sink}`, max_bytes: budget.maxBytes }, 'rescue directory full (rescue.max_bytes): input paused until replay frees space');
    const writer = this.rescue;
    if (writer && writer.lineCount > 0) {
      this.rescue = undefined;
      this.released.push(await writer.release());
    }
    const reserved = await budget.whenSpace(n);
    this.setStall(undefined);
    this.log.info({ sink: `${this.opts.group}/${this.opts.sink}` }, 'rescue directory has room again: input resumed');
    return reserved;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    const { initial_ms, max_ms, jitter } = this.opts.reconnect;
    const delay = this.retryAfterMs ?? backoffDelay({ initialMs: initial_ms, maxMs: max_ms, jitter }, this.attempt, this.opts.random);
    this.retryAfterMs = undefined;
    this.reconnectTimer = this.opts.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.serial(() => this.probe());
    }, delay);
  }

  private async probe(): Promise<void> {
    if (this.closed || !this.failedOver) return;
    let ok: boolean;
    try {
      ok = await this.backend.reconnect();
    } catch {
      ok = false;
    }
    if (!ok) {
      this.attempt++;
      this.retryAfterMs = this.backend.retryAfterMs?.();
      this.scheduleReconnect();
      return;
    }
    await this.swapBack();
  }

  private async swapBack(): Promise<void> {
    const writer = this.rescue;
    this.rescue = undefined;
    this.failedOver = false;
    this.opts.onFailover?.(false);
    if (!writer) {
      this.log.info({ group: this.opts.group, sink: this.opts.sink }, 'sink back: nothing was rescued');
      return;
    }
    const dat = await writer.release();
    this.released.push(dat);
    this.log.info({ group: this.opts.group, sink: this.opts.sink, file: dat, lines: writer.lineCount }, 'sink back: rescue file released');
  }

  /** Resolves once every write, probe and swap-back queued so far has run (tests and shutdown await it). */
  settled(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  /** Graceful stop: release the rescue file (if any) and close the backend. */
  async close(): Promise<void> {
    await this.serial(async () => {
      this.closed = true;
      if (this.reconnectTimer) this.opts.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      if (this.confirmTimer) this.opts.clock.clearTimeout(this.confirmTimer);
      this.confirmTimer = undefined;
      // the backend's unconfirmed tail (TCP: bytes a reset could still drop) is confirmed or rescued
      const tail = this.failedOver ? undefined : await this.backend.flush?.().catch(() => undefined);
      if (tail?.status === 'unavailable' && tail.resend?.length) {
        this.log.warn({ group: this.opts.group, sink: this.opts.sink, reason: tail.reason }, 'sink failed at close: unconfirmed lines rescued');
        await this.handBack(this.toRescue(tail.resend));
      } else if (tail?.status === 'ok') this.confirmations.settle(0);
      // an episode still dropping at the stop says how many it dropped, as one that ends does
      if (this.dropping > 0) this.log.warn({ sink: `${this.opts.group}/${this.opts.sink}`, dropped: this.dropping }, 'stopped while the rescue directory was full: dropping ended');
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
