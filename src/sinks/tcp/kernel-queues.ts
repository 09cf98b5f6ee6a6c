import { readFileSync } from 'node:fs';

/**
 * How many bytes of one connection the kernel still holds, read from Linux's socket tables
 * (`/proc/net/tcp`, `/proc/net/tcp6`): one line per socket,
 * `sl local_address rem_address st tx_queue:rx_queue ...`, addresses as `HEXADDR:HEXPORT`.
 * `tx_queue` of our socket is every byte not yet acknowledged by the peer (unsent included);
 * `rx_queue` of the peer's socket is every byte it acknowledged but its process has not read. On
 * loopback both sockets are in the table, so their sum is exactly what a reset can still drop;
 * for a remote peer only `tx` is known (`peerRx` undefined) and the caller assumes the largest
 * receive buffer. A dual-stack listener (`::`, Node's default) holds its side of our IPv4
 * connection as an IPv6 socket (`::ffff:a.b.c.d`), listed in `/proc/net/tcp6`: looked up there when
 * `/proc/net/tcp` has no peer and the peer is on this host (loopback, or our own address). Undefined when the table or our socket is not found (not Linux).
 */
export interface SocketQueues {
  tx: number;
  peerRx: number | undefined;
}

export type ProcReader = (file: string) => string;
const readProc: ProcReader = (f) => readFileSync(f, 'utf8');

export function hexEndpoint(address: string, port: number, family: string): string | undefined {
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  if (family === 'IPv4') {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4) return undefined;
    // the kernel prints the 32-bit address in host byte order: little-endian here
    return `${parts.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).reverse().join('')}:${p}`;
  }
  return undefined; // IPv6 endpoints are matched by port alone (below)
}

export function readSocketQueues(
  local: { address: string; port: number },
  remote: { address: string; port: number },
  family: string,
  read: ProcReader = readProc,
): SocketQueues | undefined {
  let text: string;
  try {
    text = read(family === 'IPv6' ? '/proc/net/tcp6' : '/proc/net/tcp');
  } catch {
    return undefined;
  }
  const l = hexEndpoint(local.address, local.port, family);
  const r = hexEndpoint(remote.address, remote.port, family);
  const port = (endpoint: string): number => parseInt(endpoint.slice(endpoint.lastIndexOf(':') + 1), 16);
  const same = (endpoint: string, hex: string | undefined, p: number): boolean => (hex ? endpoint === hex : port(endpoint) === p);
  let tx: number | undefined;
  let peerRx: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[4]!.includes(':')) continue;
    const [txHex, rxHex] = f[4]!.split(':');
    if (same(f[1]!, l, local.port) && same(f[2]!, r, remote.port)) tx = parseInt(txHex!, 16);
    else if (same(f[1]!, r, remote.port) && same(f[2]!, l, local.port)) peerRx = parseInt(rxHex!, 16);
  }
  // a peer on another host is in no table here: only one on this host can be a dual-stack socket
  const onThisHost = remote.address.startsWith('127.') || remote.address === local.address;
  if (tx !== undefined && peerRx === undefined && l && r && onThisHost) peerRx = mappedPeerRx(l, r, read);
  return tx === undefined ? undefined : { tx, peerRx };
}

/** The unread bytes of a dual-stack peer of our IPv4 connection (`l` → `r`), from `/proc/net/tcp6`. */
function mappedPeerRx(l: string, r: string, read: ProcReader): number | undefined {
  let text: string;
  try {
    text = read('/proc/net/tcp6');
  } catch {
    return undefined;
  }
  // ::ffff:a.b.c.d, printed as four 32-bit words in host byte order (little-endian here)
  const mapped = (hex: string): string => `0000000000000000FFFF0000${hex}`;
  const [ml, mr] = [mapped(l), mapped(r)];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && f[1] === mr && f[2] === ml && f[4]!.includes(':')) return parseInt(f[4]!.split(':')[1]!, 16);
  }
  return undefined;
}
