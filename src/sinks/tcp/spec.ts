import type { SinkTypeSpec } from '../contract.js';
import { FORMATS, type FormatName } from '../format.js';
import { TcpSink } from './tcp-sink.js';

/**
 * `type: tcp`: newline-delimited records to host:port, with a resend window (SPEC section 3) of at
 * least what the kernel may still hold; `resend_window` only raises it.
 */
export const tcpSinkType: SinkTypeSpec = {
  params: {
    host: { schema: { kind: 'string' }, default: '127.0.0.1' },
    port: { schema: { kind: 'int', min: 1, max: 65535 }, required: true },
    fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
    resend_window: { schema: { kind: 'int', min: 0 }, default: 4 * 1024 * 1024 },
    timeout_ms: { schema: { kind: 'int', min: 1 }, default: 5000 },
    confirm_ms: { schema: { kind: 'int', min: 1 }, default: 1000 },
  },
  create: (p) =>
    new TcpSink({
      host: String(p.host),
      port: Number(p.port),
      fmt: p.fmt as FormatName,
      resendWindow: Number(p.resend_window),
      timeoutMs: Number(p.timeout_ms),
      confirmMs: Number(p.confirm_ms),
    }),
};
