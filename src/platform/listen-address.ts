/** A `host:port` listen address (`[::1]:9464` for IPv6; an empty host means 127.0.0.1). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses a listen address, or returns why it is not one (checked with the config, before anything runs). */
export function parseListen(text: string): ListenAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text);
  if (!m) return `expected host:port (e.g. 127.0.0.1:9464), got ${JSON.stringify(text)}`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1..65535, got ${port}`;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
