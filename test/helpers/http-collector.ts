import http from 'node:http';
import type net from 'node:net';
import { gunzipSync } from 'node:zlib';

/**
 * A real NDJSON collector on 127.0.0.1 (random port) for http sink tests. Every request's body is
 * decoded (gzip too) and its lines kept; `answer` scripts the reply per request (default 200), and
 * may also destroy the socket or never answer. It counts the TCP connections it accepted.
 */
export interface CollectorRequest {
  n: number;
  /** When the request's body had arrived (ms). */
  at: number;
  headers: http.IncomingHttpHeaders;
  lines: string[];
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'destroy' | 'hang';

export interface Collector {
  url: string;
  requests: CollectorRequest[];
  /** Lines of the requests answered 2xx. */
  delivered: string[];
  connections: () => number;
  answer: (req: CollectorRequest) => Answer;
  close(): Promise<void>;
}

export async function startCollector(answer: (req: CollectorRequest) => Answer = () => ({ status: 200 })): Promise<Collector> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const c: Collector = {
    url: '',
    requests: [],
    delivered: [],
    connections: () => connections,
    answer,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip' && body.length) body = gunzipSync(body);
      const text = body.toString('utf8');
      const r: CollectorRequest = { n: c.requests.length, at: Date.now(), headers: req.headers, lines: text ? text.slice(0, -1).split('\n') : [] };
      c.requests.push(r);
      const a = c.answer(r);
      if (a === 'hang') return;
      if (a === 'destroy') return void req.socket.destroy();
      if (a.status >= 200 && a.status < 300) c.delivered.push(...r.lines);
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  c.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/ingest`;
  return c;
}
