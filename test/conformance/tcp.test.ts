import net from 'node:net';
import { sinkConformance } from './suite.js';

/**
 * A newline-delimited TCP receiver. With `failAfter` it resets every connection once it has read
 * that many lines and stops listening until `up()`, like a collector that crashed: what it read
 * counts as delivered, what still sat in the kernel's buffers must come back from the sink.
 */
let server: net.Server | undefined;
let sockets = new Set<net.Socket>();
let lines: number[] = [];
let port = 0;
let failAfter: number | undefined;

function listen(): Promise<void> {
  sockets = new Set();
  server = net.createServer((s) => {
    sockets.add(s);
    let carry = '';
    s.on('data', (d: Buffer) => {
      const parts = (carry + d.toString()).split('\n');
      carry = parts.pop()!;
      // every line read is delivered (what TCP can vouch for ends at the receiver's read)
      for (const p of parts) lines.push((JSON.parse(p) as { n: number }).n);
      if (failAfter !== undefined && lines.length >= failAfter) goDown();
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server!.listen(port, '127.0.0.1', () => {
    port = (server!.address() as net.AddressInfo).port;
    resolve();
  }));
}

function goDown(): void {
  failAfter = undefined;
  for (const s of sockets) s.resetAndDestroy();
  server?.close();
  server = undefined;
}

sinkConformance({
  type: 'tcp',
  async start(_dir, opts) {
    // the kill case too is a reset after 2,000 lines read: a kill -9 between the reset and wparse
    // noticing it must lose nothing, since a line is committed only once the peer vouched for it
    lines = [];
    port = 0;
    failAfter = opts.failAfter;
    await listen();
    return { host: '127.0.0.1', port, fmt: 'json' };
  },
  delivered: async () => lines,
  async up() {
    await listen();
  },
  async stop() {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  },
});
