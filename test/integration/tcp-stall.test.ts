import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { systemClock } from '../../src/platform/clock.js';
import type { SinkEntry } from '../../src/record.js';
import { FailoverSink } from '../../src/sinks/runtime.js';
import { tcpSinkType } from '../../src/sinks/tcp/spec.js';
import { tmpDir } from '../helpers/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A peer that accepts and never reads (a hung collector): its buffers and ours fill up. */
async function deafPeer(): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.pause();
    s.on('error', () => undefined);
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

/** Every `n` held by the rescue files under `dir`. */
function rescued(dir: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    for (const l of readFileSync(path.join(f.parentPath, f.name), 'utf8').split('\n')) {
      if (l) out.push((JSON.parse(l) as { record: { n: number } }).record.n);
    }
  }
  return out;
}

describe('tcp sink into a peer that accepts and never reads', () => {
  it('the write fails over after timeout_ms without progress instead of hanging; every line is in rescue', async () => {
    const { port } = await deafPeer();
    const rescueDir = tmpDir();
    const f = new FailoverSink(tcpSinkType.create({ host: '127.0.0.1', port, fmt: 'json', resend_window: 0, timeout_ms: 500 }, { workRoot: rescueDir, clock: systemClock }), {
      group: 'app', sink: 'net', rescueDir, durability: 'fsync', flushMs: 0,
      reconnect: { initial_ms: 60_000, max_ms: 60_000, jitter: 0 }, clock: systemClock,
    });
    cleanups.push(() => f.close());
    await f.open();
    const pad = 'x'.repeat(1000);
    let n = 0;
    // far more than loopback's buffers can hold (tcp_wmem + tcp_rmem max), so a write must block
    while (!f.onRescue && n < 200_000) {
      const batch: SinkEntry[] = Array.from({ length: 1000 }, () => ({ id: `src:${n}`, kind: 'record' as const, record: { n: n++, pad } }));
      // generous for a loaded machine, far below "forever"
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('write hung'), 30_000)));
      expect(await Promise.race([f.write(batch).then(() => 'written'), hung])).toBe('written');
      clearTimeout(timer);
    }
    expect(f.onRescue).toBe(true);
    await f.close();
    // the peer read nothing, so nothing may count as delivered: every line written is in rescue
    const got = new Set(rescued(rescueDir));
    const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !got.has(i));
    expect(missing).toEqual([]);
  }, 120_000);
});
