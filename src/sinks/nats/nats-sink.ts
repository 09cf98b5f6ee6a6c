import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../../errors.js';
import type { SinkEntry } from '../../record.js';
import { OK, unavailable, type Rejection, type SinkBackend, type WriteOutcome } from '../contract.js';
import { createFormatter, type FormatName, type LineFormatter } from '../format.js';
import { connectNats } from './connection.js';

export interface NatsSinkConfig {
  servers: string[];
  stream: string;
  subject: string;
  fmt: FormatName;
  /** How long a publish waits for its JetStream ack before the sink counts as unavailable. */
  timeoutMs: number;
  /** Publishes awaiting their ack at once, within one batch. */
  maxInFlight: number;
}

/**
 * Publishes each record to a JetStream subject and waits for the stream's ack. The message id
 * (`Nats-Msg-Id`) is the record id, so a record published twice — a retry after a lost ack, a
 * replay from rescue, a source line read again after a crash — is dropped by the stream's
 * duplicate window instead of stored twice. Zero duplicates therefore holds only while the window
 * covers the gap between the two publishes: set `duplicate_window` longer than the longest outage.
 * A publish that errors or is not acked in `timeoutMs` makes the sink unavailable: the acked head of
 * the batch counts as written, the rest goes to rescue. A record the client refuses to send (larger
 * than the server's max_payload) would fail the same way forever: it is rejected, not rescued.
 */
export class NatsSink implements SinkBackend {
  readonly type = 'nats';
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private readonly format: LineFormatter;

  constructor(private readonly config: NatsSinkConfig) {
    this.format = createFormatter(config.fmt);
  }

  async open(): Promise<void> {
    await this.connection();
  }

  private async connection(): Promise<JetStreamClient> {
    if (this.js && this.nc && !this.nc.isClosed()) return this.js;
    this.nc = await connectNats(this.config.servers, `warp-rescue sink ${this.config.subject}`, this.config.timeoutMs);
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream'); // on first use, as connectNats
    this.js = jetstream(this.nc, { timeout: this.config.timeoutMs });
    this.jsm = await jetstreamManager(this.nc, { timeout: this.config.timeoutMs, checkAPI: false });
    return this.js;
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    let js: JetStreamClient;
    try {
      js = await this.connection();
    } catch (err) {
      return unavailable(`nats ${this.config.subject}: connect: ${errorMessage(err)}`);
    }
    const { InvalidArgumentError } = await import('@nats-io/transport-node');
    const done = new Uint8Array(entries.length);
    const rejected: Rejection[] = [];
    let failure: unknown;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (failure === undefined && next < entries.length) {
        const i = next++;
        const e = entries[i]!;
        try {
          await js.publish(this.config.subject, this.format(e), { msgID: e.id, timeout: this.config.timeoutMs });
          done[i] = 1;
        } catch (err) {
          if (err instanceof InvalidArgumentError) {
            rejected.push({ index: i, reason: `nats ${this.config.subject}: ${errorMessage(err)}` });
            done[i] = 1;
          } else failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.maxInFlight, entries.length) }, lane));
    const some = rejected.length ? { rejected } : {};
    if (failure === undefined) return { ...OK, ...some };
    const accepted = done.indexOf(0);
    return { ...unavailable(`nats ${this.config.subject}: publish: ${errorMessage(failure)}`, accepted < 0 ? entries.length : accepted), ...some };
  }

  /** Usable again once the target stream answers with a leader (a publish would then be acked). */
  async reconnect(): Promise<boolean> {
    try {
      await this.connection();
      const info = await this.jsm!.streams.info(this.config.stream);
      return !info.cluster || Boolean(info.cluster.leader);
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    this.jsm = undefined;
    // every publish of a finished write is acked or failed already: nothing to drain, and a drain
    // would wait for a cluster that is down
    if (nc && !nc.isClosed()) await nc.close();
  }
}
