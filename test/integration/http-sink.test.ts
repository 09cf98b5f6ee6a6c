import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import type { SinkEntry } from '../../src/record.js';
import type { SinkBackend } from '../../src/sinks/contract.js';
import { parseRetryAfter } from '../../src/sinks/http/http-sink.js';
import { httpSinkType } from '../../src/sinks/http/spec.js';
import { FailoverSink } from '../../src/sinks/runtime.js';
import { startCollector, type Collector } from '../helpers/http-collector.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const collectors: Collector[] = [];
const sinks: SinkBackend[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const c of collectors.splice(0)) await c.close();
});

async function collector(...args: Parameters<typeof startCollector>): Promise<Collector> {
  const c = await startCollector(...args);
  collectors.push(c);
  return c;
}

const DEFAULTS = { headers: {}, fmt: 'json', max_lines: 1000, max_bytes: 1024 * 1024, linger_ms: 50, timeout_ms: 10_000, compression: 'none', id_field: 'rid' };

function sink(url: string, params: Record<string, unknown> = {}, clock = systemClock): SinkBackend {
  const s = httpSinkType.create({ ...DEFAULTS, url, ...params }, { workRoot: '/', clock });
  sinks.push(s);
  return s;
}

const entries = (from: number, to: number): SinkEntry[] =>
  Array.from({ length: to - from }, (_, k) => ({ id: `src:${from + k}`, kind: 'record' as const, record: { n: from + k, msg: `line ${from + k}` } }));

const ridsOf = (lines: string[]): string[] => lines.map((l) => (JSON.parse(l) as { rid: string }).rid);
const ids = (from: number, to: number): string[] => entries(from, to).map((e) => e.id);

describe('http sink against a real node:http collector', () => {
  it('POSTs NDJSON with the id field, the configured headers and one kept-alive connection', async () => {
    const c = await collector();
    // ${VAR} is replaced when the config file is read (SPEC section 2), so the sink sends values as given
    const s = sink(c.url, { headers: { Authorization: 'Bearer sekret', 'X-Lit': '${NOT_EXPANDED}' } });
    for (let b = 0; b < 20; b++) expect(await s.write(entries(b * 50, b * 50 + 50))).toEqual({ status: 'ok' });
    expect(ridsOf(c.delivered)).toEqual(ids(0, 1000));
    expect(JSON.parse(c.delivered[7]!)).toEqual({ rid: 'src:7', n: 7, msg: 'line 7' });
    expect(c.requests[0]!.headers['content-type']).toBe('application/x-ndjson');
    expect(c.requests[0]!.headers.authorization).toBe('Bearer sekret');
    expect(c.requests[0]!.headers['x-lit']).toBe('${NOT_EXPANDED}');
    expect(c.connections()).toBe(1);
  });

  it('splits a batch over max_lines and max_bytes into several POSTs, in order', async () => {
    const c = await collector();
    const s = sink(c.url, { max_lines: 100 });
    expect((await s.write(entries(0, 350))).status).toBe('ok');
    expect(c.requests.map((r) => r.lines.length)).toEqual([100, 100, 100, 50]);
    const lineBytes = Buffer.byteLength(`${JSON.stringify({ rid: 'src:350', n: 350, msg: 'line 350' })}\n`);
    const s2 = sink(c.url, { max_bytes: lineBytes * 30 + 5 });
    expect((await s2.write(entries(350, 420))).status).toBe('ok');
    expect(c.requests.slice(4).map((r) => r.lines.length)).toEqual([30, 30, 10]);
    expect(ridsOf(c.delivered)).toEqual(ids(0, 420));
  });

  it('sends gzip bodies the server decodes', async () => {
    const c = await collector();
    const s = sink(c.url, { compression: 'gzip' });
    expect((await s.write(entries(0, 500))).status).toBe('ok');
    expect(c.requests[0]!.headers['content-encoding']).toBe('gzip');
    expect(ridsOf(c.delivered)).toEqual(ids(0, 500));
  });

  it('a run of 503s is unavailable; accepted = lines of the POSTs before it; Retry-After seconds and dates', async () => {
    const c = await collector((r) => (r.n === 0 ? { status: 200 } : r.n === 1 ? { status: 503 } : r.n === 2 ? { status: 503, headers: { 'retry-after': '3' } } : { status: 429, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }));
    const s = sink(c.url, { max_lines: 100 });
    const first = await s.write(entries(0, 250));
    expect(first).toMatchObject({ status: 'unavailable', accepted: 100 });
    expect(first).not.toHaveProperty('retryAfterMs');
    expect(await s.write(entries(100, 200))).toMatchObject({ status: 'unavailable', accepted: 0, retryAfterMs: 3000 });
    const third = await s.write(entries(100, 200));
    expect(third).toMatchObject({ status: 'unavailable', accepted: 0, reason: expect.stringContaining('HTTP 429') as string });
    expect((third as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(50_000);
    expect((third as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(ridsOf(c.delivered)).toEqual(ids(0, 100));
  });

  it('probes with an empty POST: 5xx is still down, any other answer is back', async () => {
    const c = await collector((r) => (r.n < 2 ? { status: 503 } : r.n === 2 ? { status: 400, body: 'empty body' } : { status: 200 }));
    const s = sink(c.url);
    expect(await s.reconnect()).toBe(false);
    expect(await s.reconnect()).toBe(false);
    expect(await s.reconnect()).toBe(true);
    expect(c.requests.every((r) => r.lines.length === 0)).toBe(true);
  });

  it('a socket destroyed mid-request is unavailable, and the next write reconnects', async () => {
    const c = await collector((r) => (r.n === 1 ? 'destroy' : { status: 200 }));
    const s = sink(c.url);
    expect((await s.write(entries(0, 10))).status).toBe('ok');
    expect(await s.write(entries(10, 20))).toMatchObject({ status: 'unavailable', accepted: 0 });
    expect((await s.write(entries(10, 20))).status).toBe('ok');
    expect(ridsOf(c.delivered)).toEqual(ids(0, 20));
    expect(c.connections()).toBe(2);
  });

  it('a server that never answers is unavailable after timeout_ms', async () => {
    const c = await collector(() => 'hang');
    const s = sink(c.url, { timeout_ms: 300 });
    const t0 = Date.now();
    const out = await s.write(entries(0, 10));
    expect(out).toMatchObject({ status: 'unavailable', accepted: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(c.delivered).toEqual([]);
  });

  it('a status followed by a body that never ends: the write returns after timeout_ms, classed by the status', async () => {
    const drips: NodeJS.Timeout[] = [];
    let status = 200;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status);
        // one byte every 50 ms: undici's bodyTimeout (per chunk) never fires
        drips.push(setInterval(() => res.write('x'), 50));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const s = sink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, { timeout_ms: 1500 }); // well above one 50 ms drip on a loaded machine
      const hung = (): Promise<string> => new Promise((resolve) => drips.push(setTimeout(() => resolve('write hung'), 20_000)));
      const outcomes: unknown[] = [];
      for (const st of [200, 400, 503]) {
        status = st;
        outcomes.push(await Promise.race([s.write(entries(0, 3)), hung()]));
      }
      expect(outcomes[0]).toEqual({ status: 'ok' });
      expect(outcomes[1]).toMatchObject({ status: 'ok', rejected: [{ index: 0, reason: expect.stringMatching(/^HTTP 400(: x+)?$/) as string }, { index: 1 }, { index: 2 }] });
      expect(outcomes[2]).toMatchObject({ status: 'unavailable', accepted: 0, reason: expect.stringContaining('HTTP 503') as string });
    } finally {
      for (const t of drips) clearInterval(t);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 90_000);

  it('a connection refused is unavailable', async () => {
    const c = await collector();
    const url = c.url;
    await c.close();
    collectors.pop();
    const s = sink(url);
    expect(await s.write(entries(0, 5))).toMatchObject({ status: 'unavailable', accepted: 0 });
    expect(await s.reconnect()).toBe(false);
  });

  it('a 400 rejects only the lines of that POST, with the status and the start of the body', async () => {
    const c = await collector((r) => (r.n === 1 ? { status: 400, body: `bad field in line 3${'x'.repeat(500)}` } : { status: 200 }));
    const s = sink(c.url, { max_lines: 10 });
    const out = await s.write(entries(0, 30));
    expect(out.status).toBe('ok');
    expect(out.rejected?.map((r) => r.index)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(out.rejected?.[0]?.reason).toMatch(/^HTTP 400: bad field in line 3x+$/);
    expect(out.rejected?.[0]?.reason.length).toBeLessThan(220);
    expect(ridsOf(c.delivered)).toEqual([...ids(0, 10), ...ids(20, 30)]);
  });

  it('a 413 halves the POST until it fits: every good line delivered once, only a line too big alone is rejected', async () => {
    // a collector whose body limit holds 7 lines, and that refuses line 40 (3 KiB) in any body
    const c = await collector((r) => (r.lines.length > 7 || r.lines.some((l) => l.length > 2000) ? { status: 413, body: 'payload too large' } : { status: 200 }));
    const s = sink(c.url, { max_lines: 50 });
    const batch = entries(0, 100);
    batch[40] = { ...batch[40]!, record: { n: 40, msg: 'y'.repeat(3000) } };
    const out = await s.write(batch);
    expect(out.status).toBe('ok');
    expect(out.rejected).toEqual([{ index: 40, reason: 'HTTP 413: payload too large' }]);
    expect(ridsOf(c.delivered)).toEqual(ids(0, 100).filter((id) => id !== 'src:40'));
  });

  it('a redirect is unavailable (not followed, never a rejection of the lines), also for the probe', async () => {
    const c = await collector((r) => (r.n === 0 ? { status: 200 } : { status: 308, headers: { location: 'http://elsewhere.example/in?token=secret' } }));
    const s = sink(c.url, { max_lines: 10 });
    const out = await s.write(entries(0, 30));
    expect(out).toMatchObject({ status: 'unavailable', accepted: 10 });
    expect(out).not.toHaveProperty('rejected');
    expect((out as { reason: string }).reason).toMatch(/HTTP 308 to http:\/\/elsewhere\.example\/in: redirects are not followed/);
    expect((out as { reason: string }).reason).not.toContain('secret');
    expect(await s.reconnect()).toBe(false);
    expect(ridsOf(c.delivered)).toEqual(ids(0, 10));
  });

  it('behind the failover: Retry-After sets the next probe, then the backoff; one rescue file for the run of 503s', async () => {
    const c = await collector((r) => (r.n === 0 ? { status: 503, headers: { 'retry-after': '2' } } : r.n === 1 ? { status: 503 } : { status: 200 }));
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 14, 0, 0));
    const dir = tmpDir();
    const f = new FailoverSink(sink(c.url, {}, clock), {
      group: 'g', sink: 'web', rescueDir: path.join(dir, 'rescue'), durability: 'none', flushMs: 10,
      reconnect: { initial_ms: 100, max_ms: 100, jitter: 0 }, clock, random: () => 0.5,
    });
    await f.open();
    await f.write(entries(0, 10));
    expect(f.onRescue).toBe(true);
    clock.advance(1999);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.requests).toHaveLength(1);
    clock.advance(1);
    // the probe got its 503 once the next probe is scheduled, 100 ms of backoff away
    await until(() => c.requests.length === 2 && clock.pendingTimers() === 1);
    expect(clock.nextDue()! - clock.now(), 'a 503 without Retry-After: the backoff').toBe(100);
    clock.advance(100);
    await until(() => !f.onRescue);
    await f.write(entries(10, 20));
    await f.close();
    expect(ridsOf(c.delivered)).toEqual(ids(10, 20));
    expect(f.released).toHaveLength(1);
    expect(readdirSync(path.join(dir, 'rescue', 'g')).filter((n) => n.endsWith('.dat'))).toHaveLength(1);
  });

  it('behind the failover: a probe answered 429 with Retry-After waits that long for the next probe, not the backoff', async () => {
    const c = await collector((r) => (r.n === 0 ? { status: 429, headers: { 'retry-after': '2' } } : r.n === 1 ? { status: 429, headers: { 'retry-after': '5' } } : { status: 200 }));
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 14, 0, 0));
    const f = new FailoverSink(sink(c.url, {}, clock), {
      group: 'g', sink: 'web', rescueDir: path.join(tmpDir(), 'rescue'), durability: 'none', flushMs: 10,
      reconnect: { initial_ms: 100, max_ms: 100, jitter: 0 }, clock, random: () => 0.5,
    });
    await f.open();
    await f.write(entries(0, 10));
    clock.advance(2000);
    // the probe got its 429 once the next probe is scheduled
    await until(() => c.requests.length === 2 && clock.pendingTimers() === 1);
    expect(clock.nextDue()! - clock.now(), 'the next probe is the 429 probe\'s Retry-After away, not the 100 ms backoff').toBe(5000);
    clock.advance(5000);
    await until(() => !f.onRescue);
    expect(c.requests).toHaveLength(3);
    await f.close();
  });

  it('https: trusts the configured CA, refuses an unknown one, and skips the check when insecure', async () => {
    const tls = path.join(import.meta.dirname, '..', 'fixtures', 'tls');
    const server = https.createServer({ cert: readFileSync(path.join(tls, 'cert.pem')), key: readFileSync(path.join(tls, 'key.pem')) }, (req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const withCa = httpSinkType.create({ ...DEFAULTS, url, tls: { ca: 'cert.pem', insecure: false } }, { workRoot: tls, clock: systemClock });
      sinks.push(withCa);
      expect(await withCa.write(entries(0, 5))).toEqual({ status: 'ok' });
      const unknown = sink(url);
      expect(await unknown.write(entries(0, 5))).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/self[- ]signed/) as string });
      expect(await sink(url, { tls: { insecure: true } }).write(entries(0, 5))).toEqual({ status: 'ok' });
      expect(() => httpSinkType.create({ ...DEFAULTS, url, tls: { ca: 'missing.pem' } }, { workRoot: tls, clock: systemClock })).toThrow(/tls.ca: cannot read/);
    } finally {
      for (const s of sinks.splice(0)) await s.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('parses Retry-After seconds and HTTP dates, capped, ignoring garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999', now)).toBe(600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('a header undici refuses: a config problem at load, and a sink built anyway never hangs its probe', async () => {
    const v = (headers: Record<string, string>): string[] => httpSinkType.validate!({ ...DEFAULTS, url: 'http://127.0.0.1:1/x', headers });
    expect(v({ Authorization: 'Bearer t', Connection: 'keep-alive', 'X-Latin': 'café' })).toEqual([]);
    expect(v({ 'Transfer-Encoding': 'chunked' })).toEqual(['headers.Transfer-Encoding: set by the transport, not allowed here']);
    expect(v({ Expect: '100-continue', 'Content-Length': '5' })).toHaveLength(2);
    expect(v({ Authorization: 'Bearer a\nb' })).toEqual(['headers.Authorization: the value holds a control character (CR, LF, NUL...)']);
    expect(v({ 'X Bad': 'v' })).toEqual(['headers.X Bad: not a header name']);
    // undici 7 refuses the request, then its Pool never dispatches another one: the probe hung forever
    const c = await collector();
    const s = sink(c.url, { headers: { 'transfer-encoding': 'chunked' } });
    expect(await s.write(entries(0, 5))).toMatchObject({ status: 'unavailable', accepted: 0, reason: expect.stringContaining('invalid transfer-encoding header') as string });
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('probe hung'), 20_000)));
    expect(await Promise.race([s.reconnect(), hung])).toBe(false);
    clearTimeout(timer);
    expect(c.requests).toEqual([]);
  }, 60_000);

  it('validates the url', () => {
    const v = (p: Record<string, unknown>): string[] => httpSinkType.validate!({ ...DEFAULTS, ...p });
    expect(v({ url: 'http://127.0.0.1:1/x' })).toEqual([]);
    expect(v({ url: 'not a url' })[0]).toMatch(/is not a URL/);
    expect(v({ url: 'ftp://h/x' })[0]).toMatch(/protocol must be http:\/\/ or https:\/\//);
  });
});
