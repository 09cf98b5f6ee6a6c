import net from 'node:net';
import { readFileSync } from 'node:fs';

/** The kernel's range for the local ports of outgoing connections (Linux), or undefined. */
function ephemeralRange(): [number, number] | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo && hi ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => {
      const { port: got } = s.address() as net.AddressInfo;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A TCP port free on 127.0.0.1 right now, for a server the test starts later (a nats-server or
 * PostgreSQL node). Chosen below the kernel's ephemeral range: a port from that range can be taken,
 * between this check and the server's bind, as the local port of any outgoing connection on the
 * host (another test's client), and the server then fails to start.
 */
export async function freePort(): Promise<number> {
  const range = ephemeralRange();
  if (range && range[0] > 11_000) {
    for (let i = 0; i < 50; i++) {
      const port = await tryListen(10_000 + Math.floor(Math.random() * (range[0] - 10_000)));
      if (port !== undefined) return port;
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** One real HTTP GET on 127.0.0.1 (a /metrics or /healthz scrape). */
export async function httpGet(port: number, url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${url}`);
  return { status: res.status, body: await res.text() };
}
