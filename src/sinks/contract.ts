import type { Field } from '../platform/schema.js';
import type { Clock } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import type { SinkEntry } from '../record.js';

/**
 * The sink contract. A backend takes a batch of entries and reports one of:
 * - ok: every entry is written (and durable, if the backend promises durability);
 * - unavailable: the backend is down (refused/reset, timeout, 5xx, 429, ENOSPC on the target);
 *   `accepted` entries at the head of the batch were written, the rest must be rescued, and the
 *   runtime reconnects with backoff; `resend` lists entries of earlier batches that the backend had
 *   taken but may have lost with the connection (TCP's resend window): they are rescued too;
 *   `retryAfterMs` (HTTP's Retry-After) replaces the next reconnect delay;
 * - rejected entries (bad records: 4xx, constraint violation) go to the `error` group with their
 *   reason and are never retried nor rescued. They may accompany ok or unavailable.
 */
export interface Rejection {
  index: number;
  reason: string;
}

export type WriteOutcome =
  | { status: 'ok'; rejected?: Rejection[] }
  | {
      status: 'unavailable';
      accepted: number;
      reason: string;
      rejected?: Rejection[];
      resend?: SinkEntry[];
      retryAfterMs?: number;
    };

export interface SinkBackend {
  readonly type: string;
  /** Opens connections or files; throws (or reports on the first write) when unavailable. */
  open(): Promise<void>;
  write(entries: SinkEntry[]): Promise<WriteOutcome>;
  /** Probes and re-opens after an outage; resolves true when the backend is usable again. */
  reconnect(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * How many of the most recently written entries the backend cannot vouch for yet (TCP: bytes that
   * may still sit in kernel buffers when the peer resets). A caller that checkpoints (replay) must
   * not move past them. Absent = 0: an ok write is confirmed.
   */
  unconfirmed?(): number;
  /**
   * Measures now, cheaply, what the backend can vouch for (TCP: the kernel's socket queues), so
   * `unconfirmed()` drops without another write. The runtime calls it once writes pause, and every
   * `confirmMs` while entries wait. True when the measurement sees everything that could still be
   * lost (a loopback peer's queue): then measuring again is enough, and no flush is needed.
   */
  confirmQueued?(): boolean;
  /**
   * How long an entry may wait unconfirmed before the runtime acts: it measures again (a peer it
   * can see), or, for one it cannot, confirms with `flush()` once writes pause (TCP: ends the
   * connection; the next write opens a new one), and at the latest after CONFIRM_MAX_FACTOR ×
   * `confirmMs` even while writes go on.
   */
  readonly confirmMs?: number;
  /**
   * Waits until every written entry is confirmed; `unavailable` when the connection failed first
   * (the unconfirmed entries are then in `resend`). Replay calls it at the end of a file before
   * deleting it. Absent = nothing to wait for.
   */
  flush?(): Promise<WriteOutcome>;
  /** After a failed `reconnect`: the backend's own delay for the next probe (HTTP Retry-After), read once. */
  retryAfterMs?(): number | undefined;
  /** Told how many records offered to the sink went to rescue instead (test_rescue counts them). */
  offeredElsewhere?(n: number): void;
}

export const OK: WriteOutcome = { status: 'ok' };

export function unavailable(reason: string, accepted = 0): WriteOutcome {
  return { status: 'unavailable', accepted, reason };
}

/** What a backend may use besides its params: injected so tests can drive time and faults. */
export interface SinkBuildContext {
  workRoot: string;
  clock: Clock;
  fs?: FsPort;
}

/**
 * One sink type, Vector-style: its params (a schema with defaults, checked with file:line:col when
 * the config loads, so the config layer knows nothing of any one type) and the factory that builds
 * the backend from checked params. Each type lives in its own folder `sinks/<type>/`.
 */
export interface SinkTypeSpec {
  params: Record<string, Field>;
  /** Pure extra checks on checked params (cross-field rules); each string is one problem. */
  validate?(params: Record<string, unknown>): string[];
  create(params: Record<string, unknown>, ctx: SinkBuildContext): SinkBackend;
  /** The backend `wprescue` replays into, when it is not `create`'s (test_rescue: its plain file). */
  createForReplay?(params: Record<string, unknown>, ctx: SinkBuildContext): SinkBackend;
  /** Where the sink writes, for `wproj stat` (file-like sinks only). */
  outputPath?(params: Record<string, unknown>, workRoot: string): string;
}
