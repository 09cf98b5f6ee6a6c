import type { Field } from '../../platform/schema.js';
import type { SinkTypeSpec } from '../contract.js';
import { FORMATS, type FormatName } from '../format.js';
import { JS_NAME_RE, serverProblems } from './connection.js';
import { NatsSink } from './nats-sink.js';

/**
 * How `wproj nats init` creates a stream named in the config (sources and nats sinks both carry
 * these params); a running process never creates or changes a stream. `duplicate_window_ms` must
 * cover the longest outage a sink may replay after, or replayed records can be stored twice.
 */
export const NATS_STREAM_PARAMS: Record<string, Field> = {
  replicas: { schema: { kind: 'int', min: 1, max: 5 }, default: 3 },
  duplicate_window_ms: { schema: { kind: 'int', min: 1000 }, default: 120_000 },
  retention: { schema: { kind: 'string', enum: ['limits', 'workqueue'] }, default: 'limits' },
};

/** `type: nats` sink params (SPEC section 12). */
export const natsSinkType: SinkTypeSpec = {
  params: {
    servers: { schema: { kind: 'array', items: { kind: 'string' }, minItems: 1 }, required: true },
    stream: { schema: { kind: 'string', pattern: JS_NAME_RE, patternHint: 'a JetStream stream name' }, required: true },
    subject: { schema: { kind: 'string' }, required: true },
    fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
    timeout_ms: { schema: { kind: 'int', min: 1 }, default: 5000 },
    max_in_flight: { schema: { kind: 'int', min: 1 }, default: 256 },
    ...NATS_STREAM_PARAMS,
  },
  validate: (p) => [...serverProblems(p.servers), ...(/[*>]/.test(String(p.subject)) ? [`subject: ${String(p.subject)} has a wildcard: a sink publishes to one subject`] : [])],
  create: (p) =>
    new NatsSink({
      servers: (p.servers as unknown[]).map(String),
      stream: String(p.stream),
      subject: String(p.subject),
      fmt: p.fmt as FormatName,
      timeoutMs: Number(p.timeout_ms),
      maxInFlight: Number(p.max_in_flight),
    }),
};
