import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WrError } from '../../errors.js';
import type { SinkTypeSpec } from '../contract.js';
import { FORMATS, type FormatName } from '../format.js';
import { HttpSink } from './http-sink.js';
import { checkUrlParam } from '../url-param.js';

/** `type: http`: NDJSON batches by POST (SPEC section 3). */
export const httpSinkType: SinkTypeSpec = {
  params: {
    url: { schema: { kind: 'string' }, required: true },
    headers: { schema: { kind: 'map', values: { kind: 'string' } }, default: {} },
    fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
    max_lines: { schema: { kind: 'int', min: 1 }, default: 1000 },
    max_bytes: { schema: { kind: 'int', min: 1 }, default: 1024 * 1024 },
    linger_ms: { schema: { kind: 'int', min: 0 }, default: 50 },
    timeout_ms: { schema: { kind: 'int', min: 1 }, default: 10_000 },
    compression: { schema: { kind: 'string', enum: ['none', 'gzip'] }, default: 'none' },
    id_field: { schema: { kind: 'string', pattern: /^.+$/, patternHint: 'a field name' } },
    tls: {
      schema: {
        kind: 'object',
        fields: { ca: { schema: { kind: 'string' } }, insecure: { schema: { kind: 'bool' }, default: false } },
      },
    },
  },
  validate: (p) => {
    const { url: u, problems } = checkUrlParam(p.url, ['http:', 'https:'], 'http://host[:port]/path or https://...');
    const tls = p.tls as { ca?: string } | undefined;
    if (tls?.ca !== undefined && u?.protocol === 'http:') problems.push('tls: set for a plain http:// url');
    for (const [name, value] of Object.entries((p.headers ?? {}) as Record<string, string>)) problems.push(...headerProblems(name, value));
    return problems;
  },
  create: (p, ctx) => {
    const tls = p.tls as { ca?: string; insecure?: boolean } | undefined;
    const headers = Object.fromEntries(Object.entries((p.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    return new HttpSink(
      {
        url: String(p.url),
        headers,
        fmt: p.fmt as FormatName,
        maxLines: Number(p.max_lines),
        maxBytes: Number(p.max_bytes),
        timeoutMs: Number(p.timeout_ms),
        compression: p.compression === 'gzip' ? 'gzip' : 'none',
        ...(typeof p.id_field === 'string' ? { idField: p.id_field } : {}),
        ...(tls
          ? { tls: { ...(tls.ca ? { ca: readCa(path.resolve(ctx.workRoot, tls.ca)) } : {}), insecure: tls.insecure === true } }
          : {}),
      },
      ctx.clock,
    );
  },
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What HTTP/1.1 (and undici) allow in a header value: no CR, LF, NUL or other control bytes. */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Framing headers the transport owns: undici refuses a request that sets them. */
const TRANSPORT = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'content-length']);

/**
 * A header undici would refuse makes every POST fail: checked when the config loads (after
 * `${VAR}` expansion, so a variable holding a newline is caught too), not found in rescue later.
 */
function headerProblems(name: string, value: string): string[] {
  if (!TOKEN.test(name)) return [`headers.${name}: not a header name`];
  const lower = name.toLowerCase();
  if (TRANSPORT.has(lower)) return [`headers.${name}: set by the transport, not allowed here`];
  if (BAD_VALUE.test(value)) return [`headers.${name}: the value holds a control character (CR, LF, NUL...)`];
  if (lower === 'connection' && !value.split(',').every((t) => TOKEN.test(t.trim()))) return [`headers.${name}: not a list of connection options`];
  return [];
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WrError('CONFIG_INVALID', `http sink tls.ca: cannot read ${file}: ${(err as Error).message}`, err);
  }
}
