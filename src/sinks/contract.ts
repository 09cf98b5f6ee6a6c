import type { Scalar } from '../config/work-root-schema.js';

/**
 * The sink contract. A backend takes a batch of entries and reports one of:
 * - ok: every entry is written (and durable, if the backend promises durability);
 * - unavailable: the backend is down (refused/reset, timeout, 5xx, 429, ENOSPC on the target);
 *   `accepted` entries at the head of the batch were written, the rest must be rescued, and the
 *   runtime reconnects with backoff; `resend` lists entries of earlier batches that the backend had
 *   taken but may have lost with the connection (TCP's resend window): they are rescued too;
 * - rejected entries (bad records: 4xx, constraint violation) go to the `error` group with their
 *   reason and are never retried nor rescued. They may accompany ok or unavailable.
 */
export type FieldValue = Scalar;
export type Rec = Record<string, FieldValue>;

export interface SinkEntry {
  /** `<source key>:<byte offset>` of the input line; stable across re-reads. */
  id: string;
  kind: 'record' | 'raw';
  record?: Rec;
  raw?: string;
  /**
   * The record's JSON text exactly as JSON.stringify wrote it into a rescue line, when replay has
   * it at hand: the json formatter then writes it as is instead of stringifying the record again.
   */
  json?: string;
}

export interface Rejection {
  index: number;
  reason: string;
}

export type WriteOutcome =
  | { status: 'ok'; rejected?: Rejection[] }
  | { status: 'unavailable'; accepted: number; reason: string; rejected?: Rejection[]; resend?: SinkEntry[] };

export interface SinkBackend {
  readonly type: string;
  /** Opens connections or files; throws (or reports on the first write) when unavailable. */
  open(): Promise<void>;
  write(entries: SinkEntry[]): Promise<WriteOutcome>;
  /** Probes and re-opens after an outage; resolves true when the backend is usable again. */
  reconnect(): Promise<boolean>;
  close(): Promise<void>;
  /** Told how many records offered to the sink went to rescue instead (test_rescue counts them). */
  offeredElsewhere?(n: number): void;
}

export const OK: WriteOutcome = { status: 'ok' };

export function unavailable(reason: string, accepted = 0): WriteOutcome {
  return { status: 'unavailable', accepted, reason };
}
