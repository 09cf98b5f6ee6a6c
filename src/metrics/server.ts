import http from 'node:http';
import type { Registry } from 'prom-client';

/** `/metrics` (Prometheus text) and `/healthz` (200, or 503 with the reason) on host:port. */
export async function startMetricsServer(listen: string, registry: Registry, health: () => string | undefined): Promise<http.Server> {
  const idx = listen.lastIndexOf(':');
  const host = listen.slice(0, idx) || '127.0.0.1';
  const port = Number(listen.slice(idx + 1));
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === '/healthz') {
      const problem = health();
      res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ?? 'ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}
