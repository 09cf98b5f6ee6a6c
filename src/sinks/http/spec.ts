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

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WrError('CONFIG_INVALID', `http sink tls.ca: cannot read ${file}: ${(err as Error).message}`, err);
  }
}
