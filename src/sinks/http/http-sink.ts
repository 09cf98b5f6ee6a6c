import { promisify } from 'node:util';
import { gzip as gzipCb, constants as zlibConstants } from 'node:zlib';
import type { Dispatcher, Pool } from 'undici';
import type { Clock } from '../../platform/clock.js';
import type { SinkEntry } from '../../record.js';
import { OK, type Rejection, type SinkBackend, type WriteOutcome } from '../contract.js';
import { createFormatter, type FormatName, type LineFormatter } from '../format.js';

const gzip = promisify(gzipCb);

export interface HttpSinkConfig {
  url: string;
  /** Extra request headers, `${VAR}` already expanded. */
  headers: Record<string, string>;
  fmt: FormatName;
  maxLines: number;
  maxBytes: number;
  timeoutMs: number;
  compression: 'none' | 'gzip';
  /** When set, each JSON line carries the record id under this name (receivers deduplicate). */
  idField?: string;
  tls?: { ca?: string; insecure?: boolean };
}

/** How much of a rejecting response's body is kept in the reason. */
const BODY_START = 200;
/** A Retry-After beyond this is a server's mistake, not a plan: the backoff takes over. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

type PostResult =
  | { kind: 'ok' }
  | { kind: 'down'; reason: string; retryAfterMs?: number }
  | { kind: 'rejected'; reason: string; tooLarge?: boolean };

/**
 * NDJSON over HTTP POST on an undici Pool (keep-alive; about 4x the built-in fetch for this load).
 * A write is cut into POSTs of at most `maxLines` lines and `maxBytes` bytes, sent in order; the
 * status classes say what each POST's lines are: 2xx delivered; connection error, timeout, 408, 429
 * and 5xx unavailable (the head already sent is `accepted`, `Retry-After` becomes the next probe's
 * delay); any other 4xx rejects that POST's lines with the status and the start of the body. Two
 * answers are about the request, not the lines: a 413 halves the POST until it fits (only a line
 * the server refuses alone is rejected), and a 3xx (redirects are not followed: a POST body may
 * not be resent to another place behind the operator's back) is unavailable, so the url can be fixed.
 */
export class HttpSink implements SinkBackend {
  readonly type = 'http';
  private pool: Pool | undefined;
  private readonly origin: string;
  private readonly path: string;
  /** The url in messages: no credentials, no query string (either may hold a token). */
  private readonly where: string;
  private readonly headers: Record<string, string>;
  private readonly format: LineFormatter;
  private probeRetryAfterMs: number | undefined;

  constructor(
    private readonly config: HttpSinkConfig,
    private readonly clock: Clock,
  ) {
    const u = new URL(config.url);
    this.origin = u.origin;
    this.path = `${u.pathname}${u.search}`;
    this.where = `${u.origin}${u.pathname}`;
    this.headers = {
      ...config.headers,
      'content-type': 'application/x-ndjson',
      ...(config.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
    this.format = lineFormatter(config.fmt, config.idField);
  }

  async open(): Promise<void> {
    // The runtime hands over one batch at a time and its POSTs go in order, so one kept-alive
    // connection carries them all (a larger pool opens a second socket for nothing).
    if (this.pool) return;
    // loaded on first use: importing undici costs every start of wparse about 90 ms of CPU
    const { Pool } = await import('undici');
    this.pool ??= new Pool(this.origin, {
      connections: 1,
      headersTimeout: this.config.timeoutMs,
      bodyTimeout: this.config.timeoutMs,
      connect: {
        timeout: this.config.timeoutMs,
        ...(this.config.tls?.ca ? { ca: this.config.tls.ca } : {}),
        ...(this.config.tls?.insecure ? { rejectUnauthorized: false } : {}),
      },
    });
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    await this.open();
    const rejected: Rejection[] = [];
    let start = 0;
    let maxLines = this.config.maxLines;
    while (start < entries.length) {
      const { body, end } = this.cut(entries, start, maxLines);
      const r = await this.post(body);
      if (r.kind === 'down') {
        return {
          status: 'unavailable',
          accepted: start,
          reason: `http ${this.where}: ${r.reason}`,
          ...(rejected.length ? { rejected } : {}),
          ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
        };
      }
      if (r.kind === 'rejected' && r.tooLarge && end - start > 1) {
        maxLines = Math.ceil((end - start) / 2); // the rest of this write keeps the smaller size
        continue;
      }
      if (r.kind === 'rejected') for (let i = start; i < end; i++) rejected.push({ index: i, reason: r.reason });
      start = end;
    }
    return rejected.length ? { status: 'ok', rejected } : OK;
  }

  /**
   * The NDJSON body of entries[start..end): at least one line, at most maxLines and maxBytes. UTF-8
   * takes at most 3 bytes per UTF-16 unit, so bytes are only counted once a body could near the cap.
   */
  private cut(entries: SinkEntry[], start: number, maxLines: number): { body: string; end: number } {
    const { maxBytes } = this.config;
    let body = '';
    let bytes = -1;
    let i = start;
    for (; i < entries.length && i - start < maxLines; i++) {
      const line = `${this.format(entries[i]!)}\n`;
      if (bytes < 0 && (body.length + line.length) * 3 > maxBytes) bytes = Buffer.byteLength(body);
      if (bytes >= 0) {
        const n = Buffer.byteLength(line);
        if (i > start && bytes + n > maxBytes) break;
        bytes += n;
      }
      body += line;
    }
    return { body, end: i };
  }

  private async post(text: string): Promise<PostResult> {
    const body = this.config.compression === 'gzip' ? await gzip(text, { level: zlibConstants.Z_BEST_SPEED }) : text;
    let res;
    try {
      res = await this.pool!.request({ path: this.path, method: 'POST', headers: this.headers, body });
    } catch (err) {
      // a fresh pool for the next try: undici 7 leaves a Pool whose request it refused (a header it
      // does not allow) unable to dispatch the next one, which then waits forever, timeouts included
      const p = this.pool;
      this.pool = undefined;
      void p?.destroy().catch(() => undefined);
      return { kind: 'down', reason: (err as Error).message };
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      await this.discard(res.body);
      return { kind: 'ok' };
    }
    if (status === 408 || status === 429 || status >= 500) {
      await this.discard(res.body);
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.clock.now());
      return { kind: 'down', reason: `HTTP ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    if (status < 400) {
      await this.discard(res.body);
      const to = res.headers.location;
      return { kind: 'down', reason: `HTTP ${status}${to ? ` to ${String(to).split('?')[0]}` : ''}: redirects are not followed, fix the url` };
    }
    const start = await this.bodyStart(res.body);
    return { kind: 'rejected', reason: `HTTP ${status}${start ? `: ${start}` : ''}`, ...(status === 413 ? { tooLarge: true } : {}) };
  }

  /**
   * Response bodies are read for at most `timeout_ms` in all: undici's bodyTimeout is per chunk, so a
   * server that sends its status and then drips its body forever held the write (and the pipeline).
   */
  private async discard(body: Dispatcher.ResponseData['body']): Promise<void> {
    // a timer cleared at once, not AbortSignal.timeout(): that one lives its whole timeout_ms, so
    // thousands of POSTs a second kept thousands of timers and signals pending
    const timer = setTimeout(() => body.destroy(), this.config.timeoutMs);
    try {
      await body.dump({ limit: 128 * 1024 });
    } catch {
      // destroyed at the timeout, or the connection went: the status has decided already
    } finally {
      clearTimeout(timer);
    }
  }

  /** The start of a rejecting response's body (the status alone when none came in time). */
  private async bodyStart(body: Dispatcher.ResponseData['body']): Promise<string> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => body.destroy(), this.config.timeoutMs);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        bytes += chunk.length;
        if (bytes >= 4 * BODY_START) break; // enough for BODY_START characters; the rest is not read
      }
    } catch {
      // what came before the failure (or nothing) is the reason's text
    } finally {
      clearTimeout(timer);
    }
    return Buffer.concat(chunks).toString('utf8').slice(0, BODY_START);
  }

  /**
   * An empty POST: any answer outside the unavailable classes (a 400 for an empty body included; a 3xx is still down)
   * means the server is back. Probing keeps a long run of 503s in one rescue file.
   */
  async reconnect(): Promise<boolean> {
    await this.open();
    const r = await this.post('');
    // a 429/503 probe's Retry-After is the server's wish for the next probe too, not only a write's
    this.probeRetryAfterMs = r.kind === 'down' ? r.retryAfterMs : undefined;
    return r.kind !== 'down';
  }

  retryAfterMs(): number | undefined {
    const ms = this.probeRetryAfterMs;
    this.probeRetryAfterMs = undefined;
    return ms;
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.close().catch(() => p.destroy());
  }
}

/** `Retry-After: <seconds>` or `<HTTP date>`, as a delay in ms from `now`, capped. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  let ms: number;
  if (/^\s*\d+\s*$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** The sink's line formatter; with `idField` and fmt json, the id is the record's first key. */
function lineFormatter(fmt: FormatName, idField: string | undefined): LineFormatter {
  const base = createFormatter(fmt);
  if (!idField) return base;
  if (fmt !== 'json') return (e) => (e.kind === 'raw' ? base(e) : base({ ...e, record: { [idField]: e.id, ...e.record } }));
  const prefix = `{${JSON.stringify(idField)}:`;
  return (e) => {
    if (e.kind === 'raw') return JSON.stringify({ [idField]: e.id, raw: e.raw ?? '' });
    const json = base(e);
    return `${prefix}${JSON.stringify(e.id)}${json.length > 2 ? ',' : ''}${json.slice(1)}`;
  };
}
