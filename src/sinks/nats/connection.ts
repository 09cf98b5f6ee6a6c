import type { NatsConnection } from '@nats-io/transport-node';

/**
 * How every warp-rescue process talks to a NATS cluster: all seed URLs, and reconnecting forever
 * with a short wait, because a node that dies (or a whole cluster that restarts) is an outage to
 * ride out, not a reason to exit. Whatever needs a bound (a publish, a fetch) has its own timeout.
 */
export async function connectNats(servers: string[], name: string, timeoutMs = 5000): Promise<NatsConnection> {
  // the NATS client is loaded on first use: importing it costs every start of wparse about 50 ms of CPU
  const { connect } = await import('@nats-io/transport-node');
  return connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: timeoutMs, waitOnFirstConnect: false });
}

/** Problems with a `servers` list (each must parse as a nats:// or tls:// URL); pure, for `wproj check`. */
export function serverProblems(servers: unknown): string[] {
  if (!Array.isArray(servers) || servers.length === 0) return ['servers: give at least one nats://host:port URL'];
  const out: string[] = [];
  for (const s of servers) {
    let url: URL | undefined;
    try {
      url = new URL(String(s));
    } catch {
      url = undefined;
    }
    if (!url || !['nats:', 'tls:'].includes(url.protocol) || !url.hostname) out.push(`servers: ${JSON.stringify(s)} is not a nats://host:port URL`);
  }
  return out;
}

/** JetStream stream and consumer names: no spaces, dots, wildcards or path separators. */
export const JS_NAME_RE = /^[^\s.*>/\\]+$/;
