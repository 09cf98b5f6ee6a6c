import net from 'node:net';

/** What the listener does to its i-th connection (connections past the plan are healthy). */
export interface ConnectionPlan {
  /** Reads nothing for this long (after `pauseAtBytes` read, default at once), so the buffers on both sides fill. */
  pauseMs?: number;
  pauseAtBytes?: number;
  /** Resets (RST) the connection once it has read at least this many bytes (whole chunks; 0: right after the pause). */
  resetAfterBytes?: number;
  /** Resets instead of closing when the sender ends the stream (a peer that dies at the very end). */
  resetOnEnd?: boolean;
}

/**
 * A real newline-delimited listener on 127.0.0.1 that keeps every complete line it read and can
 * reset its connections as a crashing peer would: whatever sits unread in its receive buffer (and
 * in the sender's send buffer) is lost, and a partial last line is dropped. A reset comes at the
 * first chunk that reaches `resetAfterBytes` (whole chunks are taken).
 */
export class LineListener {
  readonly lines: string[] = [];
  connections = 0;
  resets = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly plan: ConnectionPlan[] = []) {
    this.server = net.createServer((s) => this.accept(s));
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The `n` field of every JSON line received. */
  ns(): number[] {
    return this.lines.map((l) => (JSON.parse(l) as { n: number }).n);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(s: net.Socket): void {
    const plan = this.plan[this.connections++] ?? {};
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    let tail = '';
    let read = 0;
    let reset = false;
    let paused = false;
    const limit = plan.resetAfterBytes;
    // Every byte taken from the kernel is kept, as an application that processes what it reads: a
    // reset loses what the kernel still holds, which is what a sender can know of. (It used to cut
    // the chunk at the limit and drop what Node had read ahead while paused: up to 130 kB taken
    // from the kernel and thrown away, which no sender can tell from delivered.)
    const take = (d: Buffer): void => {
      read += d.length;
      const text = tail + d.toString();
      const nl = text.lastIndexOf('\n');
      if (nl >= 0) {
        for (const l of text.slice(0, nl).split('\n')) this.lines.push(l);
        tail = text.slice(nl + 1);
      } else tail = text;
    };
    const resetNow = (): void => {
      s.pause();
      for (let d = s.read() as Buffer | null; d !== null; d = s.read() as Buffer | null) take(d); // read ahead while paused
      reset = true;
      this.resets++;
      s.resetAndDestroy();
    };
    const pause = (): void => {
      paused = true;
      s.pause();
      setTimeout(() => {
        if (reset) return;
        if (limit !== undefined && read >= limit) resetNow();
        else s.resume();
      }, plan.pauseMs);
    };
    s.on('data', (d: Buffer) => {
      if (reset || s.isPaused()) return; // a chunk read() hands back while draining: taken there
      take(d);
      if (plan.pauseMs && !paused && read >= (plan.pauseAtBytes ?? 0)) pause();
      else if (limit !== undefined && read >= limit) resetNow();
    });
    if (plan.resetOnEnd) s.on('end', () => !reset && resetNow());
    if (plan.pauseMs && !plan.pauseAtBytes) pause();
    else if (limit === 0) resetNow();
  }
}
