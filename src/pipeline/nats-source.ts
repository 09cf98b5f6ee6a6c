import type { Consumer, ConsumerConfig, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsSourceParams } from '../config/work-root-schema.js';
import { errorMessage, WrError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { backoffDelay } from '../platform/backoff.js';
import { sleep, type Clock, type TimerHandle } from '../platform/clock.js';
import { say, type Logger } from '../platform/logger.js';
import { connectNats } from '../sinks/nats/connection.js';
import type { Source, SourceBatch } from './source.js';

/** The consumer settings a `type: nats` source asks for, its params with defaults applied. */
export interface NatsSourceSettings {
  servers: string[];
  stream: string;
  subject: string | undefined;
  consumer: string;
  batch: number;
  ackWaitMs: number;
  maxAckPending: number;
}

export function natsSourceSettings(p: NatsSourceParams): NatsSourceSettings {
  return {
    servers: p.servers,
    stream: p.stream,
    subject: p.subject,
    consumer: p.consumer,
    batch: p.batch ?? 512,
    ackWaitMs: p.ack_wait_ms ?? 30_000,
    maxAckPending: p.max_ack_pending ?? 20_000,
  };
}

export interface NatsSourceOptions {
  key: string;
  settings: NatsSourceSettings;
  /** Daemon: fetch until aborted. Batch: end once the consumer has nothing pending. */
  follow: boolean;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
}

const RETRY = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

interface Held {
  msgs: JsMsg[];
  /** When the ack deadline of these messages was last (re)started. */
  since: number;
}

/**
 * `type: nats`: a durable pull consumer shared by every host that names it, so the stream's work is
 * spread over them. A message is one line; its record id is `<key>:<stream sequence>`, the same on
 * every redelivery. A batch is acked only in `commit()`, which the pipeline calls once every record
 * of it is delivered or durable in rescue; until then the messages are held, and their ack deadline
 * is extended (`working()`) so a slow sink does not get them redelivered to another host. A host
 * that dies holding messages leaves them to the others after `ack_wait_ms`; one that stops
 * gracefully naks what it holds uncommitted, so they go elsewhere at once. The next fetch runs while
 * the pipeline works on the current batch.
 */
export class NatsSource implements Source {
  private nc: NatsConnection | undefined;
  private readonly held = new Set<Held>();
  private timer: TimerHandle | undefined;
  /** The fetch in flight (fetched ahead), which close() lets end before it naks what it holds. */
  private inFlight: Promise<Held> | undefined;
  private readonly m;

  constructor(private readonly o: NatsSourceOptions) {
    const k = o.key;
    this.m = o.metrics && {
      fetched: o.metrics.natsFetched.labels(k),
      acked: o.metrics.natsAcked.labels(k),
      redelivered: o.metrics.natsRedelivered.labels(k),
      pending: o.metrics.natsPending.labels(k),
    };
  }

  get key(): string {
    return this.o.key;
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const consumer = await this.retry(signal, 'connect', () => this.open());
    if (!consumer) return;
    this.o.log.info({ source: this.o.key, stream: this.o.settings.stream, consumer: this.o.settings.consumer }, 'source started');
    this.keepWorking();
    const idPrefix = `${this.o.key}:`;
    let next = (this.inFlight = this.fetch(consumer, signal));
    for (;;) {
      const held = await next;
      const { msgs } = held;
      if (signal.aborted) {
        this.release(held);
        return;
      }
      if (msgs.length === 0) {
        this.held.delete(held);
        if (!this.o.follow && (await this.drained(consumer))) return;
        next = this.inFlight = this.fetch(consumer, signal);
        continue;
      }
      next = this.inFlight = this.fetch(consumer, signal);
      this.count(msgs);
      yield {
        lines: msgs.map((m) => m.string()),
        idPrefix,
        positions: msgs.map((m) => m.seq),
        commit: (count = msgs.length) => {
          this.held.delete(held);
          for (let i = 0; i < msgs.length; i++) {
            if (i < count) msgs[i]!.ack();
            else msgs[i]!.nak();
          }
          this.m?.acked.inc(count);
        },
      };
    }
  }

  /** Gives messages back uncommitted: a nak makes them available to another host at once. */
  private release(held: Held): void {
    this.held.delete(held);
    for (const m of held.msgs) m.nak();
  }

  private async open(): Promise<Consumer> {
    const s = this.o.settings;
    this.nc ??= await connectNats(s.servers, `warp-rescue source ${this.o.key}`);
    // the NATS client is loaded on first use (see connectNats)
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    await this.ensureConsumer(jsm);
    return jsm.jetstream().consumers.get(s.stream, s.consumer);
  }

  /** Creates the durable consumer if missing; an existing one is used as it is, its differences logged. */
  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const s = this.o.settings;
    const { AckPolicy, JetStreamApiCodes, JetStreamApiError } = await import('@nats-io/jetstream');
    const { nanos } = await import('@nats-io/transport-node');
    const want: Partial<ConsumerConfig> = {
      durable_name: s.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(s.ackWaitMs),
      max_ack_pending: s.maxAckPending,
      max_deliver: -1,
      ...(s.subject ? { filter_subject: s.subject } : {}),
    };
    try {
      const have = (await jsm.consumers.info(s.stream, s.consumer)).config;
      const diff = (Object.keys(want) as Array<keyof ConsumerConfig>).filter((k) => have[k] !== want[k]).map((k) => `${k}: has ${JSON.stringify(have[k])}, config says ${JSON.stringify(want[k])}`);
      if (diff.length) this.o.log.warn({ source: this.o.key, consumer: s.consumer, diff }, 'nats consumer exists with other settings: using it unchanged');
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
        throw new WrError('SOURCE_FAILED', `source ${this.o.key}: stream ${s.stream} does not exist (create it with \`wproj nats init\`)`, err);
      }
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
      await jsm.consumers.add(s.stream, want);
      this.o.log.info({ source: this.o.key, consumer: s.consumer }, 'nats consumer created');
    }
    // a replicated consumer just created has no leader for a moment; a pull sent then goes
    // unanswered until its heartbeats are missed, a stall of seconds
    for (let i = 0; i < 50; i++) {
      const info = await jsm.consumers.info(s.stream, s.consumer);
      if (!info.cluster || info.cluster.leader) return;
      await sleep(this.o.clock, 100);
    }
  }

  /**
   * One fetch, held from its first message on: ack_wait runs from the server's send, so the messages
   * of a fetch still filling up, or fetched ahead while the pipeline works, need `working()` too. An
   * error (a node going away, a leader election) is logged and counts as an empty batch; a guard
   * timer bounds the fetch whatever the client library does. A stop signal does not cut a fetch
   * short: messages the server sends after the client stopped listening would be stuck until
   * ack_wait, while a fetch that ends by itself (at most `expires` later) can be nak'ed whole.
   */
  private async fetch(consumer: Consumer, signal: AbortSignal): Promise<Held> {
    const held: Held = { msgs: [], since: this.o.clock.now() };
    if (signal.aborted) return held;
    this.held.add(held);
    const expires = Math.min(2000, Math.max(1000, Math.floor(this.o.settings.ackWaitMs / 3)));
    let it: Awaited<ReturnType<Consumer['fetch']>> | undefined;
    const guard = this.o.clock.setTimeout(() => void it?.stop(), expires + 3000);
    try {
      it = await consumer.fetch({ max_messages: this.o.settings.batch, expires });
      for await (const m of it) held.msgs.push(m);
      this.o.log.debug({ source: this.o.key, n: held.msgs.length }, 'nats fetch');
    } catch (err) {
      this.o.log.warn({ source: this.o.key, err: errorMessage(err) }, 'nats fetch failed: retrying');
      await sleep(this.o.clock, RETRY.initialMs, signal);
    } finally {
      this.o.clock.clearTimeout(guard);
    }
    return held;
  }

  /** Batch mode ends when nothing is left to deliver and no other host holds messages that may come back. */
  private async drained(consumer: Consumer): Promise<boolean> {
    try {
      const info = await consumer.info();
      const mine = [...this.held].reduce((a, h) => a + h.msgs.length, 0);
      this.m?.pending.set(info.num_pending);
      return info.num_pending === 0 && info.num_ack_pending <= mine;
    } catch {
      return false;
    }
  }

  private count(msgs: JsMsg[]): void {
    if (!this.m) return;
    this.m.fetched.inc(msgs.length);
    const again = msgs.reduce((a, m) => a + (m.redelivered ? 1 : 0), 0);
    if (again) this.m.redelivered.inc(again);
    this.m.pending.set(msgs[msgs.length - 1]!.info.pending);
  }

  /** Extends the ack deadline of messages held for a third of `ack_wait_ms`, so a slow sink keeps them. */
  private keepWorking(): void {
    const every = Math.max(100, Math.floor(this.o.settings.ackWaitMs / 6));
    const tick = (): void => {
      const now = this.o.clock.now();
      for (const h of this.held) {
        if (now - h.since < this.o.settings.ackWaitMs / 3) continue;
        for (const m of h.msgs) m.working();
        h.since = now;
      }
      this.timer = this.o.clock.setTimeout(tick, every);
    };
    this.timer = this.o.clock.setTimeout(tick, every);
  }

  private async retry<T>(signal: AbortSignal, what: string, fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof WrError) throw err;
        this.o.log.warn({ source: this.o.key, err: errorMessage(err), attempt }, `nats ${what} failed: retrying`);
        // the terminal hears of it once: a cluster that is not up otherwise looks like a hang
        if (attempt === 0) say(`wparse: nats source ${this.o.key}: ${what} failed (${errorMessage(err)}); retrying until it works (each attempt in the log)`);
        await sleep(this.o.clock, backoffDelay(RETRY, attempt), signal);
      }
    }
    return undefined;
  }

  /** Naks what was fetched but never committed (it goes to another host now), flushes acks, disconnects. */
  async close(): Promise<void> {
    await this.inFlight;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const h of [...this.held]) this.release(h);
    const nc = this.nc;
    this.nc = undefined;
    if (!nc || nc.isClosed()) return;
    // drain sends the acks still buffered; bounded, because with the cluster down it would wait forever
    const drained = nc.drain().catch(() => undefined);
    let t: TimerHandle | undefined;
    await Promise.race([drained, new Promise<void>((r) => (t = this.o.clock.setTimeout(r, 2000)))]);
    if (t) this.o.clock.clearTimeout(t);
    if (!nc.isClosed()) await nc.close();
  }
}
