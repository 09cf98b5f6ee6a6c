import http from 'node:http';
import type { Registry } from 'prom-client';
import { WrError, errnoCode, errorMessage } from '../errors.js';
import { parseListen } from '../platform/listen-address.js';

/** Why /healthz answers 503: the JSON body (SPEC section 8). */
export interface HealthProblem {
  reason: string;
  message: string;
  [detail: string]: unknown;
}

/**
 * `/metrics` (Prometheus text) and `/healthz` (200 `ok`, or 503 with a JSON reason) on host:port.
 * `what` names the setting the address came from, so a busy or bad address says what to change.
 */
export async function startMetricsServer(listen: string, what: string, registry: Registry, health: () => HealthProblem | undefined): Promise<http.Server> {
  const addr = parseListen(listen);
  if (typeof addr === 'string') throw new WrError('CONFIG_INVALID', `${what}: ${addr}`);
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === '/healthz') {
      const problem = health();
      if (problem) res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: 'unhealthy', ...problem })}\n`);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      const code = errnoCode(err);
      const why = code === 'EADDRINUSE' ? 'address already in use (another process listens there)' : code === 'EADDRNOTAVAIL' ? 'no such local address' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
      reject(new WrError('CONFIG_INVALID', `${what} ${listen}: cannot listen: ${why}; set another address in conf/wparse.yaml or with --metrics-listen`));
    });
    server.listen(addr.port, addr.host, () => resolve());
  });
  server.unref();
  return server;
}
